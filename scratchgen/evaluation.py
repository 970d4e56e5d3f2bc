"""Which metrics apply to a trained model and its data, and computing them: what
``scratchgen eval DIR --metrics ...`` runs. Each name on the command line, when it applies, and
the keys it writes into metrics.json:

    nll, bpd  a likelihood, exact or bounded   test_nll, test_bpd (and the ELBO and its terms)
    fid       images with a feature network    fid_<network>
    kid                                        kid_<network>_mean, kid_<network>_std
    pr                                         precision_<network>, recall_<network>
    dc                                         density_<network>, coverage_<network>
    mmd       vector data (such as the 2-D toys)   mmd_rbf
    w2                                         w2
    modes     a mixture with known modes       modes_captured, modes_total, high_quality,
                                               reverse_kl
    nn        images and real vectors          nn_distance_samples, nn_distance_test

<network> names the feature network (scratchgen_mnist): a feature-based score compared with
one from another network (Inception's) means nothing. Sample metrics compare n model samples
with n test examples; ``nn`` gives the mean distance from a sample to its nearest training
example beside the same for test examples, which a model that copies its training set beats.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchgen.data import Dataset, toy2d
from scratchgen.data import captions as caption_language
from scratchgen.models.base import GenerativeModel

METRICS = ("nll", "bpd", "fid", "kid", "pr", "dc", "mmd", "w2", "modes", "nn")
FEATURE_METRICS = ("fid", "kid", "pr", "dc")
VECTOR_METRICS = ("mmd", "w2")


class NotApplicable(ValueError):
    """A metric asked of a model or data it does not apply to; the message says why."""


def _samples_with(model: GenerativeModel) -> bool:
    return type(model).sample is not GenerativeModel.sample


def why_not(metric: str, model: GenerativeModel, dataset: Dataset) -> str | None:
    """Why ``metric`` does not apply to ``model`` on ``dataset``, or None when it does."""
    from scratchgen.metrics.features import RECIPES

    name = type(model).__name__
    if metric not in METRICS:
        return f"there is no metric {metric!r}; there are {', '.join(METRICS)}"
    if metric in ("nll", "bpd"):
        if model.has_exact_likelihood or getattr(model, "has_bound", False):
            return None
        return f"{name} has no likelihood to score, exact or bounded"
    if not _samples_with(model):
        return f"{name} cannot draw samples, which {metric} compares with the data"
    if getattr(model, "translates", False):
        return (f"{name} translates images rather than drawing them; its score is the "
                "translations' accuracy (python -m benchmarks.gans cyclegan)")  # fmt: skip
    if metric in FEATURE_METRICS and dataset.name not in RECIPES:
        return (f"{metric} needs a feature network for the data, and there is none for "
                f"{dataset.name} (there are: {', '.join(RECIPES)})")  # fmt: skip
    if metric in VECTOR_METRICS and len(dataset.info.shape) != 1:
        return (f"{metric} compares raw vectors, and {dataset.name} holds examples of shape "
                f"{dataset.info.shape}; use fid or kid for images")  # fmt: skip
    if metric == "modes" and "modes" not in dataset.extras:
        known = ", ".join(toy2d.MODES)
        return f"{dataset.name} is not a mixture with known modes (these are: {known})"
    if metric == "nn" and not (len(dataset.info.shape) == 3 or dataset.info.kind == "continuous"):
        return (f"nn measures distances between images or vectors, and {dataset.name} holds "
                f"sequences of tokens")  # fmt: skip
    return None


def applicable(model: GenerativeModel, dataset: Dataset) -> list[str]:
    """The metrics that apply, in the order of METRICS (``bpd`` folded into ``nll``)."""
    return [m for m in METRICS if m != "bpd" and why_not(m, model, dataset) is None]


def check(metrics: Sequence[str], model: GenerativeModel, dataset: Dataset) -> None:
    """Refuse, in one line, the first metric that does not apply."""
    for metric in metrics:
        reason = why_not(metric, model, dataset)
        if reason is not None:
            raise NotApplicable(f"{metric}: {reason}")


def draw_samples(model: GenerativeModel, n: int, rng: np.random.Generator,
                 temperature: float | None = None, given: Any = None, label: int | None = None,
                 guidance: float | None = None,
                 captions: Sequence[str] | None = None) -> np.ndarray:  # fmt: skip
    """n samples, a class-conditional model's of ``label`` or cycling through its classes
    (0, 1, ..., 0, 1, ...), a captioned model's cycling through ``captions`` (none: the empty
    caption, the unconditional model); at a ``temperature`` for the models whose ``sample``
    takes one (the flows), with classifier-free ``guidance`` for those that take it (the diffusion
    models). A translation model (``translates``, as cyclegan) translates ``given``, rows of
    its data: n of them, or all there are if fewer."""
    options: dict[str, Any] = {}
    name, captioned = model.registered_name, getattr(model, "captioned", False)
    if label is not None and not model.conditional:
        raise NotApplicable(f"{name} is not class-conditional: it takes no label")
    if guidance is not None:
        if "guidance" not in inspect.signature(model.sample).parameters:
            raise NotApplicable(f"{name} takes no guidance (the diffusion models do)")
        if not (model.conditional or captioned):
            raise NotApplicable(f"{name} was trained without labels (num_classes=0): "
                                "there is nothing to guide toward")  # fmt: skip
        options["guidance"] = guidance
    if captions is not None:
        if not captioned:
            raise NotApplicable(f"{name} was trained without captions: it takes none")
        try:
            for caption in captions:
                caption_language.parse(caption)
        except caption_language.CaptionError as error:
            raise NotApplicable(str(error)) from None
        options["caption"] = [captions[i % len(captions)] for i in range(n)]
    elif guidance and captioned:
        raise NotApplicable(f"{name}: guidance steers toward a caption; give one")
    if getattr(model, "translates", False):
        if given is None:
            raise NotApplicable(f"{model.registered_name} translates images: it needs some to "
                                "translate")  # fmt: skip
        options["given"] = given[:n]
        n = min(n, len(given))
    if temperature is not None:
        if "temperature" not in inspect.signature(model.sample).parameters:
            raise NotApplicable(f"{model.registered_name} samples at no temperature but its own")
        options["temperature"] = temperature
    if model.conditional:
        k = model.hparams["num_classes"]
        if label is not None and not 0 <= label < k:
            raise NotApplicable(f"{name}'s labels run from 0 to {k - 1}, got {label}")
        options["y"] = np.arange(n) % k if label is None else np.full(n, label)
    return model.sample(n, rng, **options)


def evaluate_model(
    model: GenerativeModel,
    dataset: Dataset,
    metrics: Sequence[str] | None = None,
    n: int = 2000,
    rng: np.random.Generator | None = None,
    progress: bool = True,
    on_samples: Callable[[np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """The metrics asked for (all that apply when None) as a flat dict of the keys above, with
    ``eval_samples`` (n, capped by the test set's size); a captioned model draws each sample
    under the caption of the test scene it is compared with. ``on_samples`` receives the
    samples drawn, for a figure."""
    from scratchgen.train import evaluate

    rng = np.random.default_rng(0) if rng is None else rng
    asked = list(dict.fromkeys(applicable(model, dataset) if metrics is None else metrics))
    check(asked, model, dataset)
    result: dict[str, Any] = {}
    if "nll" in asked or "bpd" in asked:
        result.update(evaluate(model, dataset.test, y=model.condition_data(dataset, "test")))
    sample_based = [m for m in asked if m not in ("nll", "bpd")]
    if not sample_based:
        return result
    n, captions = min(n, len(dataset.test)), None
    if getattr(model, "captioned", False):  # each sample under its test scene's caption
        captions = list(model.condition_data(dataset, "test")[:n])
    fake = draw_samples(model, n, rng, captions=captions)
    if on_samples is not None:
        on_samples(fake)
    return {**result, **score_samples(fake, dataset, sample_based, rng, progress)}


def score_samples(fake: np.ndarray, dataset: Dataset, metrics: Sequence[str],
                  rng: np.random.Generator, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """The sample-based ``metrics`` of samples ``fake`` (however they were drawn) against the
    first len(fake) test examples, with ``eval_samples``; the keys of ``evaluate_model``."""
    from scratchgen import metrics as M

    n = len(fake)
    unknown = [m for m in metrics if m not in METRICS or m in ("nll", "bpd")]
    if unknown:
        raise ValueError(f"score_samples: {', '.join(unknown)} not sample metrics; choose from "
                         f"{', '.join(m for m in METRICS if m not in ('nll', 'bpd'))}")  # fmt: skip
    if n > len(dataset.test):
        raise ValueError(f"score_samples: {n} samples against {len(dataset.test)} test examples")
    real, sample_based = dataset.test[:n], list(metrics)
    result: dict[str, Any] = {"eval_samples": n}
    if any(m in FEATURE_METRICS for m in sample_based):
        network = M.feature_network(dataset.name, progress=progress)
        f_real, f_fake, tag = network.features(real), network.features(fake), network.name
        result[f"{tag}_test_accuracy"] = network.test_accuracy
        if "fid" in sample_based:
            result[f"fid_{tag}"] = M.fid(f_real, f_fake)
        if "kid" in sample_based:
            mean, std = M.kid(f_real, f_fake, subset_size=min(1000, n), rng=rng)
            result.update({f"kid_{tag}_mean": mean, f"kid_{tag}_std": std})
        if "pr" in sample_based:
            result.update({f"{k}_{tag}": v for k, v in M.precision_recall(f_real, f_fake).items()})
        if "dc" in sample_based:
            result.update({f"{k}_{tag}": v for k, v in M.density_coverage(f_real, f_fake).items()})
    if "mmd" in sample_based:
        result["mmd_rbf"] = M.mmd(real, fake)
    if "w2" in sample_based:
        result["w2"] = M.wasserstein2(real, fake)
    if "modes" in sample_based:
        centres, std = dataset.extras["modes"]
        found = M.mode_coverage(fake, centres, std)
        result.update(modes_captured=found["modes"], modes_total=len(centres),
                      high_quality=found["high_quality"],
                      reverse_kl=found["reverse_kl"])  # fmt: skip
    if "nn" in sample_based:
        for key, x in (("nn_distance_samples", fake), ("nn_distance_test", real)):
            result[key] = float(M.nearest_neighbours(x, dataset.train)[0].mean())
    return result
