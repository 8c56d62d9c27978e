"""Linear diffusion trained on real image sets, against the typical-case theory on each
set's own spectrum, with controls (chapter 9).

    python experiments/real_data.py             # the full run: results/real_data.json
    python experiments/real_data.py --smallest  # the smallest configuration

The sets (``ld.load_image_dataset``), each on its training split (six images of seven;
the held-out seventh is a second reference):

* ``fashion``: Fashion-MNIST, 60,000 images of 28 x 28 (d = 784);
* ``patches``: 16 x 16 patches of 13 natural photographs, 12,231 (d = 256);
* ``patches-flat``: the same patches with each patch's mean brightness subtracted (the
  direction of uniform brightness projected out: a population of rank d - 1 = 255,
  whose KL divergences are measured on its support);
* ``digits``: 8 x 8 digits on their 61 varying pixels, 1541 images.

The population ``rho`` is the Gaussian with the training split's mean and covariance.
For each set and each size ``N = d 2^j`` (``j = -4 .. 4``), ``DRAWS`` training sets of
each source:

* ``real``: ``N`` images drawn from the split *with replacement*: independent draws
  from the split's empirical law, whose mean and covariance are ``rho``'s. (Drawn
  without replacement, as a subset, they would fluctuate less than independent samples,
  and the KL would shrink by about ``1 - N/N_pop``.)
* ``clone``: ``N`` samples of ``rho`` itself, the Gaussian clone: the control on which
  the theory must hold, through the identical pipeline;
* ``mixture`` (the patches): a Gaussian scale mixture with ``rho``'s mean and
  covariance, ``mu + sqrt(s) (y - mu)`` with ``y ~ rho`` and ``s ~ Gamma(a, 1/a)``
  (``E s = 1``; excess kurtosis ``3/a`` in every direction), heavy tails and nothing
  else.
* ``radial`` (every set): the Gaussian clone with the set's own radial law. Each
  sample is a direction of ``rho`` (``y - mu`` for ``y ~ rho``, scaled to whitened
  squared norm 1 per dimension) times ``sqrt(s_j)``, with ``s_j`` the whitened squared
  norm per dimension of a random image of the split, ``(x_j - mu)^T Sigma^+ (x_j - mu)
  / rank``. Its mean and covariance are ``rho``'s (``E s = 1``); what it keeps of the
  images is how far each lies from the mean in the metric of ``Sigma``, and nothing of
  their directions.

Each training set gives the linear denoiser's exact metrics (``ld.exact_metrics``): the
summed train and test loss over ``d``, the test loss on the held-out split's law, and
``KL(rho_N || rho)/d`` and ``KL(rho || rho_N)/d`` on the support of ``rho``. The theory
is the typical case on ``rho``'s spectrum (``ld.predict_losses``), and for the
divergences on its non-zero eigenvalues with the population mean (``ld.predict_metrics``
with ``mean``: the generated mean misses it by ``(h(Sigma_0) - 1) mu``); ``best`` is the
summed test loss of the optimal denoiser of ``rho``. Seeds: training set ``i`` of (set,
source, N) draws from ``default_rng([SEED, set, source, N, i])``, so that any part of
the run reproduces alone. The result file records the configuration, the seeds and the
code version (the git commit, and whether the tree had changes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import lindiff_core as ld
from _record import ROOT, code_version, write

OUT = ROOT / "results" / "real_data.json"
SEED = 2026
DRAWS = 40
POWERS = list(range(-4, 5))  # N = d 2^j
SHAPE = 0.3  # the Gamma shape a of the scale mixture: excess kurtosis 3/a = 10
SETS = {  # name: (loader name, patch size, sources)
    "fashion": ("fashion", None, ("real", "clone", "radial")),
    "patches": ("patches", 16, ("real", "clone", "mixture", "radial")),
    "patches-flat": ("patches", 16, ("real", "clone")),
    "digits": ("digits", None, ("real", "clone", "radial")),
}
SOURCES = ("real", "clone", "mixture", "radial")
METRICS = ("train", "test", "test_held_out", "kl", "kl_reverse")
SMALLEST = {"sets": ["digits"], "powers": [-4, 0], "draws": 2}


def prepare(name: str):
    """``(X, rho, held)``: the training split, its Gaussian and the held-out split's."""
    loader, size, _ = SETS[name]
    X, _ = ld.load_image_dataset(loader, size=size, split="train")
    H, _ = ld.load_image_dataset(loader, size=size, split="test")
    keep = np.ptp(X, axis=0) > 0  # the varying pixels (all but the digits' three)
    X, H = X[:, keep], H[:, keep]
    if name == "patches-flat":
        X, H = X - X.mean(axis=1, keepdims=True), H - H.mean(axis=1, keepdims=True)
    return X, ld.Gaussian.from_samples(X), ld.Gaussian.from_samples(H)


def radii(Y, rho) -> np.ndarray:
    """Each row's whitened squared distance from the mean per dimension, ``(y - mu)^T
    Sigma^+ (y - mu) / rank``, on the support of ``rho`` (mean 1 over ``rho``)."""
    on = rho.eigenvalues > 0
    Z = (Y - rho.mean) @ rho.basis[:, on] / np.sqrt(rho.eigenvalues[on])
    return np.sum(Z**2, axis=1) / np.count_nonzero(on)


def draw(source: str, X, rho, N: int, rng, s_all=None) -> np.ndarray:
    """``N`` training points of ``source`` (see the module's docstring); ``s_all`` is
    ``radii(X, rho)``, needed by ``radial``."""
    if source == "real":
        return X[rng.integers(0, X.shape[0], N)]
    Y = rho.sample(N, rng)
    if source == "mixture":
        s = rng.gamma(SHAPE, 1.0 / SHAPE, size=(N, 1))
        Y = rho.mean + np.sqrt(s) * (Y - rho.mean)
    elif source == "radial":
        s = s_all[rng.integers(0, X.shape[0], N)] / radii(Y, rho)
        Y = rho.mean + np.sqrt(s)[:, None] * (Y - rho.mean)
    return Y


def measure(Y, rho, held, sched) -> list[float]:
    """The metrics of ``METRICS`` of the denoiser trained on ``Y``, each over ``d``."""
    d = rho.d
    emp = ld.Gaussian.from_samples(Y)
    den = ld.fit_linear_denoiser(emp, sched)
    m = ld.exact_metrics(den, sched, rho, emp)
    on = None if rho.rank == d else rho
    kl = ld.kl_divergence(m.generated, rho, support=on)
    kl_rev = ld.kl_divergence(rho, m.generated, support=on)
    held_test = ld.test_loss(den, sched, held).sum()
    values = [m.train_loss.sum(), m.test_loss.sum(), held_test, kl, kl_rev]
    return [float(v) / d for v in values]


def theory(rho, Ns, sched) -> dict:
    """The typical case on ``rho``'s spectrum (and, for the divergences, its mean) at
    each ``N``, each metric over ``d``."""
    lam = rho.spectrum
    order = np.argsort(rho.eigenvalues)[::-1]
    pos = rho.eigenvalues[order] > 0
    # the divergences on the support: its eigenvalues and the mean's coordinates there
    support = rho.eigenvalues[order][pos]
    mean = rho.basis[:, order][:, pos].T @ rho.mean
    d = rho.d
    out = {"train": [], "test": [], "kl": [], "kl_reverse": []}
    for N in Ns:
        train, test = ld.predict_losses(lam, N, sched)
        pm = ld.predict_metrics(support, N, sched, mean=mean)
        out["train"].append(float(train.sum()) / d)
        out["test"].append(float(test.sum()) / d)
        out["kl"].append(float(pm.kl) / d)
        out["kl_reverse"].append(float(pm.kl_reverse) / d)
    best = ld.test_loss(ld.fit_linear_denoiser(rho, sched), sched, rho).sum() / d
    out["best"] = float(best)
    return out


def run(sets, powers, draws) -> dict:
    sched = ld.linear_schedule()
    result = {}
    for name in sets:
        start = time.perf_counter()
        X, rho, held = prepare(name)
        s_all = radii(X, rho)
        d = rho.d
        Ns = [max(2, round(d * 2.0**j)) for j in powers]
        entry = {
            "d": d,
            "rank": rho.rank,
            "population": int(X.shape[0]),
            "N": Ns,
            "theory": theory(rho, Ns, sched),
        }
        set_index = list(SETS).index(name)
        for source in SETS[name][2]:
            values = np.zeros((len(Ns), draws, len(METRICS)))
            for a, N in enumerate(Ns):
                for i in range(draws):
                    rng = np.random.default_rng(
                        [SEED, set_index, SOURCES.index(source), N, i]
                    )
                    values[a, i] = measure(
                        draw(source, X, rho, N, rng, s_all), rho, held, sched
                    )
            entry[source] = {m: values[..., k].tolist() for k, m in enumerate(METRICS)}
        entry["seconds"] = round(time.perf_counter() - start, 1)
        print(f"{name}: d = {d}, {len(Ns)} sizes x {draws} draws, {entry['seconds']} s")
        result[name] = entry
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smallest", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    config = (
        SMALLEST
        if args.smallest
        else {"sets": list(SETS), "powers": POWERS, "draws": DRAWS}
    )
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
            mixture_shape=SHAPE,
            sources={n: list(s[2]) for n, s in SETS.items()},
            metrics=list(METRICS),
            schedule="ld.linear_schedule()",
            seeds="default_rng([seed, set index, source index, N, draw])",
        ),
        version,
        "sets",
        result,
    )


if __name__ == "__main__":
    main()
