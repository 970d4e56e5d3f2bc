"""``python -m scratchgen`` is the ``scratchgen`` command."""

from scratchgen.cli import main

raise SystemExit(main())
