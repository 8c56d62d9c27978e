"""Weight decay and early stopping of linear diffusion on Fashion-MNIST: the optimal
weight decay (constant and step-scaled) and the optimal training time against N, the
typical-case theory on the set's spectrum against training sets (chapter 9).

    python experiments/real_regularization.py             # the full run (results/)
    python experiments/real_regularization.py --smallest  # the smallest configuration

The population ``rho`` is the Gaussian of Fashion-MNIST's training split (60,000 images,
d = 784). For each ``N = d r`` and each source (``real``: ``N`` images drawn from the
split with replacement; ``clone``: ``N`` samples of ``rho``, the control), ``DRAWS``
training sets; each is fitted on a grid of each regularizer (``ld.fit_linear_denoiser``
with ``weight_decay`` and ``regularization``, or ``train_time``) and gives the exact
summed test loss under ``rho`` over ``d`` at every grid point. The theory gives the same
curves (``ld.predict_losses``, ``ld.predict_metrics`` with ``train_time``) and its
optima on a finer search (``ld.optimal_weight_decay``; for the training time the same
grid-then-Brent search in ``ln tau``).

The chapter finds the simulated optimum from the average curve over the training sets
(the theory's optimum minimizes the typical, that is the average, loss). Seeds: training
set ``i`` of (source, N) draws from ``default_rng([SEED, source, N, i])``. The result
file records the configuration, the seeds and the code version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

import lindiff_core as ld
from _record import ROOT, code_version, write

OUT = ROOT / "results" / "real_regularization.json"
SEED = 2027
DRAWS = 20
RATIOS = [0.25, 0.5, 1.0, 2.0, 4.0]  # N = d r
SOURCES = ("real", "clone")
# four points per decade, around the theory's optima at every N (0.006 to 0.13 for the
# weight decays, 3 to 40 for the training time)
GRIDS = {
    "constant": np.logspace(-3.5, 0.5, 17).tolist(),
    "step-scaled": np.logspace(-3.5, 0.5, 17).tolist(),
    "train_time": np.logspace(-0.5, 2.5, 13).tolist(),
}
SMALLEST = {"ratios": [0.25], "draws": 2}


def fit(emp, sched, mode: str, value: float):
    """The denoiser fitted to ``emp`` with the regularizer ``mode`` at ``value``."""
    if mode == "train_time":
        return ld.fit_linear_denoiser(emp, sched, train_time=value)
    return ld.fit_linear_denoiser(emp, sched, weight_decay=value, regularization=mode)


def theory_loss(lam, N: int, sched, mode: str, values) -> np.ndarray:
    """The typical summed test loss over ``d`` at each of ``values``."""
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if mode == "train_time":
        return ld.predict_metrics(lam, N, sched, train_time=values).test_loss / lam.size
    return (
        np.array(
            [
                ld.predict_losses(lam, N, sched, v, regularization=mode)[1].sum()
                for v in values
            ]
        )
        / lam.size
    )


def theory_optimum(lam, N: int, sched, mode: str) -> float:
    """The regularizer's value that minimizes the typical summed test loss."""
    if mode != "train_time":
        return ld.optimal_weight_decay(lam, N, sched, regularization=mode)
    grid = np.log(np.logspace(-1, 4, 41))
    values = theory_loss(lam, N, sched, mode, np.exp(grid))
    i = int(np.argmin(values))
    res = minimize_scalar(
        lambda x: float(theory_loss(lam, N, sched, mode, np.exp(x))[0]),
        bounds=(grid[i - 1], grid[i + 1]),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(res.x))


def run(ratios, draws) -> dict:
    sched = ld.linear_schedule()
    X, _ = ld.load_image_dataset("fashion", split="train")
    rho = ld.Gaussian.from_samples(X)
    d, lam = rho.d, rho.spectrum
    out = {"d": d, "population": int(X.shape[0]), "N": [], "theory": {}, "sims": {}}
    for mode in GRIDS:
        out["theory"][mode] = {"curve": [], "optimum": [], "loss_at_optimum": []}
        out["sims"][mode] = {s: [] for s in SOURCES}
    for r in ratios:
        start = time.perf_counter()
        N = round(r * d)
        out["N"].append(N)
        for mode, grid in GRIDS.items():
            th = out["theory"][mode]
            th["curve"].append(theory_loss(lam, N, sched, mode, grid).tolist())
            best = theory_optimum(lam, N, sched, mode)
            th["optimum"].append(best)
            at_best = theory_loss(lam, N, sched, mode, best)[0]
            th["loss_at_optimum"].append(float(at_best))
        for k, source in enumerate(SOURCES):
            curves = {mode: np.zeros((draws, len(g))) for mode, g in GRIDS.items()}
            for i in range(draws):
                rng = np.random.default_rng([SEED, k, N, i])
                if source == "real":
                    Y = X[rng.integers(0, X.shape[0], N)]
                else:
                    Y = rho.sample(N, rng)
                emp = ld.Gaussian.from_samples(Y)
                for mode, grid in GRIDS.items():
                    dens = [fit(emp, sched, mode, v) for v in grid]
                    curves[mode][i] = ld.test_losses(dens, sched, rho).sum(axis=1) / d
            for mode in GRIDS:
                out["sims"][mode][source].append(curves[mode].tolist())
        print(f"N = {N}: {time.perf_counter() - start:.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smallest", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    config = SMALLEST if args.smallest else {"ratios": RATIOS, "draws": DRAWS}
    version = code_version()  # that of the code that runs, taken before it runs
    result = run(**config)
    if args.smallest:
        json.dump(result, sys.stdout, indent=1)
        return
    write(
        args.out,
        dict(
            config,
            seed=SEED,
            sources=list(SOURCES),
            grids=GRIDS,
            data="fashion, training split",
            schedule="ld.linear_schedule()",
            seeds="default_rng([seed, source index, N, draw])",
        ),
        version,
        "result",
        result,
    )


if __name__ == "__main__":
    main()
