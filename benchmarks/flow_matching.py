"""Flow matching on the 2-D benchmark of the TorchCFM code (Tong et al. 2024), for issue 22.

The protocol: eight Gaussians at radius 5 with TorchCFM's covariance sqrt(0.1) I (its
``eight_normal_sample(n, 2, scale=5, var=0.1)`` passes sqrt(var) as the covariance: standard
deviation 0.56), scikit-learn's moons with noise 0.2 mapped by x * 3 - 1, and N(0, I);
10 000 training and 1 000 test points per seed; batch 512, AdamW at 1e-3 with weight decay
1e-5, sigma = 0.1 on Tong's constant-width path. Three tasks (N(0, I) to eight Gaussians,
N(0, I) to moons, eight Gaussians to moons) and five methods: CFM (independent coupling),
OT-CFM (minibatch OT), and rectified flow: sigma = 0 on the independent coupling, then one and
two reflows on the previous flow's own pairs (10 000 of them, 100 Euler steps each). Each
is scored by W2 (exact, between 1 000 samples and the 1 000 test points) at 1 Euler step,
100 Euler steps and with the adaptive solver, with the adaptive solver's NFE and the path
energy E int ||v||^2 dt.

Differences from TorchCFM, said here so the table can be read: our network is the diffusion
models' MLP (3 x 64 with SiLU and sinusoidal features of t) where theirs is 3 x 64 with SELU
reading t directly, and the budget is ``--steps`` (2000 by default) where their scripts train
20 000 steps. Rows are printed as JSON; ``--table`` prints the README's table from them.
Run: python -m benchmarks.flow_matching [--steps N] [--seeds S ...] [--tasks ...] > rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons

from scratchgen import data, metrics, models, train
from scratchgen import flow_matching as fm

TASKS = {"gaussian-8gaussians": ("gaussian", "8gaussians"),
         "gaussian-moons": ("gaussian", "moons"),
         "8gaussians-moons": ("8gaussians", "moons")}  # fmt: skip
NETWORK = {"hidden": [64, 64, 64], "embedding": 16}
TRAINING = {"batch_size": 512, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 1e-5,
            "eval_every": 10**9, "log_every": 10**9}  # fmt: skip
SIGMA, PAIRS, PAIR_STEPS, POINTS = 0.1, 10_000, 100, (10_000, 1_000)


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    angles = np.pi / 4 * rng.integers(8, size=n)
    centres = 5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres + np.sqrt(np.sqrt(0.1)) * rng.standard_normal((n, 2))


def moons(n: int, rng: np.random.Generator) -> np.ndarray:
    points, _ = make_moons(n, noise=0.2, random_state=int(rng.integers(2**31)))
    return points * 3 - 1


SAMPLERS = {"8gaussians": eight_gaussians, "moons": moons}


def _split(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, sorted(SAMPLERS).index(name)])
    points = SAMPLERS[name](sum(POINTS), rng).astype(np.float32)
    return points[: POINTS[0]], points[POINTS[0] :]


def _dataset(train_points: np.ndarray, test_points: np.ndarray) -> data.Dataset:
    dataset = data.from_array(np.concatenate([train_points, test_points]), kind="continuous",
                              test_fraction=POINTS[1] / sum(POINTS))  # fmt: skip
    dataset.train, dataset.test = train_points, test_points
    return dataset


def _scores(model, test: np.ndarray, seed: int) -> dict:
    rng = np.random.default_rng([seed, 99])
    x0 = model.draw_source(len(test), rng)
    row = {}
    for label, sampler, steps in (("w2_1", "euler", 1), ("w2_100", "euler", 100),
                                  ("w2_adaptive", "adaptive", 100)):  # fmt: skip
        samples, nfe = model.sample(len(test), rng, sampler=sampler, steps=steps, x0=x0,
                                    return_nfe=True)  # fmt: skip
        row[label] = metrics.wasserstein2(samples, test)
        if sampler == "adaptive":
            row["nfe_adaptive"] = nfe
    row["path_energy"] = fm.path_energy(model.velocity, x0)
    return row


def run_task(task: str, seed: int, steps: int, folder: Path) -> None:
    source_name, target_name = TASKS[task]
    train_points, test_points = _split(target_name, seed)
    target = _dataset(train_points, test_points)
    source = "gaussian"
    if source_name != "gaussian":
        source = str(folder / f"{source_name}_{seed}.npy")
        np.save(source, _split(source_name, seed + 1000)[0])
    methods = {"CFM": dict(coupling="independent", sigma=SIGMA),
               "OT-CFM": dict(coupling="ot", sigma=SIGMA),
               "RF": dict(coupling="independent", sigma=0.0)}  # fmt: skip
    teacher = None
    for label in [*methods, "RF, reflow 1", "RF, reflow 2"]:
        settings = methods.get(label, dict(coupling="reflow", sigma=0.0, pairs=PAIRS))
        model = models.create("flow_matching", target.info, path="tong", source=source,
                              seed=seed, **NETWORK, **settings)  # fmt: skip
        if label.startswith("RF, reflow"):
            model.set_pairs(*teacher.couple(PAIRS, np.random.default_rng([seed, 7]),
                                            steps=PAIR_STEPS))  # fmt: skip
        started = time.perf_counter()
        train.fit(model, target, progress=False, steps=steps, seed=seed, **TRAINING)
        seconds = time.perf_counter() - started
        if label.startswith("RF"):
            teacher = model
        row = {"task": task, "method": label, "seed": seed, "steps": steps,
               "seconds": round(seconds, 1), **_scores(model, test_points, seed)}  # fmt: skip
        print(json.dumps(row), flush=True)


def table(rows: list[dict]) -> None:
    """The README's table: mean and standard deviation over seeds."""
    columns = ("w2_1", "w2_100", "w2_adaptive", "nfe_adaptive", "path_energy", "seconds")
    print("| task | method | seeds | " + " | ".join(columns) + " |")
    print("|" + " --- |" * (len(columns) + 3))
    for task in TASKS:
        for method in ("CFM", "OT-CFM", "RF", "RF, reflow 1", "RF, reflow 2"):
            chosen = [r for r in rows if r["task"] == task and r["method"] == method]
            if not chosen:
                continue
            cells = []
            for c in columns:
                values = np.array([r[c] for r in chosen], dtype=float)
                spread = values.std(ddof=1) if len(values) > 1 else 0.0
                precise = c.startswith(("w2", "path"))
                cells.append(f"{values.mean():.3f} ± {spread:.3f}" if precise
                             else f"{values.mean():.0f}")  # fmt: skip
            print(f"| {task} | {method} | {len(chosen)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(5)))
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--table", type=Path, help="print the table from these JSON rows")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text().splitlines()
                if line.startswith("{")]  # fmt: skip
        table(rows)
        return
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            for task in args.tasks:
                run_task(task, seed, args.steps, Path(folder))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
