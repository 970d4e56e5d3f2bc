"""The ``scratchgen`` command line.

User mistakes end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn


class UsageError(Exception):
    """A mistake in how the command was called: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scratchgen", description="Deep generative models from scratch.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    tour = commands.add_parser("tour", help="the demo: train small models and write a gallery")
    tour.add_argument("--out", type=Path, default=Path("tour"), help="output folder")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--quick", action="store_true", help="a few steps only (for tests)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "tour":
            from scratchgen.tour import run_tour

            run_tour(args.out, seed=args.seed, quick=args.quick)
        return 0
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchgen: interrupted", file=sys.stderr)
        return 130
