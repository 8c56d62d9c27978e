"""Networks trained as practitioners train them, against the linear model trained the
same way and in closed form: when do they stop reproducing their training points, at
several dimensions, seeds, budgets and widths, and on images (chapter 8).

    python experiments/networks.py             # the full run (results/networks.json)
    python experiments/networks.py --smallest  # the smallest configuration, printed

Models, each trained on the book's DDPM loss with Adam (``lindiff.nn``) and sampled
through the book's chain (``ld.run_chain``, ``n = SAMPLES`` samples):

* ``shared``: one ReLU perceptron (two hidden layers of ``4 d`` units) fed ``x`` and an
  embedding of ``t``, batch 256, learning rate ``1e-3`` falling to 0 along a cosine;
  the budget is a number of passes per training point (``EPOCHS``: ``EPOCHS N / 256``
  Adam steps), so that every training point is seen equally often at every ``N``;
* ``adam-linear``: the linear model ``W_t x + b_t`` (a full matrix per step) from a
  random start (``nn.train_linear``, 1000 Adam steps of 16 points per step ``t``,
  learning rate ``2e-2`` falling to 0 along a cosine): the control that separates
  optimization from non-linearity;
* ``closed``: the linear model in closed form (``ld.fit_linear_denoiser``).

Part ``transition``: Gaussian power-law data (``k = 1``) at ``d`` in ``DIMS``, ``N = d
r`` for ``r`` in ``RATIOS``, ``SEEDS`` seeds (a new training set and a new network
start for each). Part ``budget`` and part ``width``: the shared network at ``d = 32``
with half and twice the passes, and with widths 64 and 256 (2 d and 8 d). Part
``early``: the Adam-trained linear model at ``N = d`` with a constant learning rate, 8
points per step ``t`` and 40 checkpoints, its exact summed training and test losses and
exact KL at each, beside gradient flow from a random start (``ld.fit_from_init``) on a
grid of training times.
Part ``skip``: the shared network at ``d = 32`` with the fixed skip connection of
``nn.train_shared(skip=True)`` (its output plus ``sqrt(1 - abar_t) x``), the control for
the network used on images. Part ``fashion``: Fashion-MNIST's training split averaged
over 2 x 2 pixels (14 x 14, ``d = 196``, scaled to ``Tr Sigma = d``), training images
drawn with replacement, the shared network as in ``FASHION["networks"]`` (width 256 and
8000 passes; width 784 = 4 d, 8000 passes and the skip connection), the Adam-trained
linear model and the closed form.

For each trained model: the median of ``ld.nearest_distance_ratio`` of its samples (and
of as many fresh samples of the population, the reference), the spectrum of the sample
covariance, the overlaps of its top three eigenvectors with the training covariance's,
the fitted KL (``ld.fitted_kl``), the mean training loss of the last 5% of Adam steps;
for Fashion-MNIST's first seed, the first ``FASHION["keep"]`` samples and their nearest
training images.

Seeds: the population of dimension ``d`` from ``default_rng([SEED, d])``; training set
``s`` of size ``N`` from ``default_rng([SEED, d, N, s])``; the network's start from JAX
key ``s``; the chain from ``default_rng([SEED, d, N, s, 1])``; the reference samples
from ``default_rng([SEED, d, N, s, 2])``. Every configuration is cached under
``.cache/experiments/networks`` by its parameters (the run resumes where it stopped);
the result file records the configuration, the seeds, the code version and the JAX
version. Two processes, one thread each; every configuration records its time in
``seconds`` (``train_seconds``: the training alone).
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait  # noqa: E402
from multiprocessing import get_context  # noqa: E402

import numpy as np  # noqa: E402

from _record import ROOT, code_version, write  # noqa: E402

OUT = ROOT / "results" / "networks.json"
CACHE = ROOT / ".cache" / "experiments" / "networks"
SEED = 2028
K = 1.0
DIMS = [16, 32, 64]
RATIOS = [0.25, 0.5, 1.0, 2.0, 4.0]
SEEDS = 5
EPOCHS = 32000
WIDTH_PER_D = 4
LEARNING_RATE = 1e-3
BATCH = 256
SAMPLES = 500
TOP = 3
LINEAR = {"n_steps": 1000, "batch": 16, "learning_rate": 2e-2}
EARLY = {
    "dims": [16, 32],
    "n_steps": 8000,
    "batch": 8,
    "checkpoints": 40,
    "learning_rate": 1e-3,
}
TAUS = np.logspace(-1.0, 4.0, 41).tolist()
SWEEP_D = 32
BUDGETS = [EPOCHS // 2, 2 * EPOCHS]
WIDTHS = [64, 256]
FASHION = {
    "ratios": [0.5, 2.0],
    "seeds": 3,
    "keep": 8,
    "networks": [
        {"epochs": 8000, "width": 256},
        {"epochs": 8000, "width": 784, "skip": True},
    ],
}
SKIP_D = 32
CONSTANTS = {
    "seed": SEED,
    "k": K,
    "learning_rate": LEARNING_RATE,
    "batch": BATCH,
    "samples": SAMPLES,
    "top": TOP,
    "linear": LINEAR,
    "early": EARLY,
    "taus": TAUS,
}
SMALLEST = {"dims": [16], "ratios": [0.5, 2.0], "seeds": 2}


def population(d: int):
    import lindiff_core as ld

    return ld.power_law_gaussian(d, K, np.random.default_rng([SEED, d]))


def fashion_population():
    """Fashion-MNIST's training split at 14 x 14 pixels, scaled to ``Tr Sigma = d``,
    and its Gaussian."""
    import lindiff_core as ld

    X, _ = ld.load_image_dataset("fashion", split="train")
    X = X.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(-1, 196)
    X = X / np.sqrt(np.sum((X - X.mean(axis=0)) ** 2) / X.size)
    return X, ld.Gaussian.from_samples(X)


def _summary(U, X, reference, rho, Sigma0_vectors) -> dict:
    import lindiff_core as ld

    cov = np.cov(U.T, bias=True)
    values, vectors = np.linalg.eigh(cov)
    top = vectors[:, ::-1][:, :TOP]
    return {
        "median_ratio": float(np.median(ld.nearest_distance_ratio(U, X))),
        "data_ratio": float(np.median(ld.nearest_distance_ratio(reference, X))),
        "spectrum": [float(v) for v in values[::-1]],
        "overlaps": [float(v) for v in np.abs(np.sum(top * Sigma0_vectors, axis=0))],
        "fitted_kl": float(ld.fitted_kl(U, rho)),
    }


def run(task: dict) -> dict:
    """One configuration: train, sample, summarize."""
    import lindiff_core as ld
    from lindiff import nn
    from lindiff import reference as ref

    sched = ld.linear_schedule()
    kind, d, N, s = task["data"], task["d"], task["N"], task["seed"]
    if kind == "fashion":
        pool, rho = fashion_population()
        rng = np.random.default_rng([SEED, d, N, s])
        X = pool[rng.integers(len(pool), size=N)]
    else:
        rho = population(d)
        X = rho.sample(N, np.random.default_rng([SEED, d, N, s]))
    reference = rho.sample(SAMPLES, np.random.default_rng([SEED, d, N, s, 2]))
    chain_rng = np.random.default_rng([SEED, d, N, s, 1])
    S0 = np.cov(X.T, bias=True)
    S0_top = np.linalg.eigh(S0)[1][:, ::-1][:, :TOP]
    model = task["model"]
    out = {}
    start = time.time()
    if model == "shared":
        steps = max(1, task["epochs"] * N // BATCH)
        net = nn.train_shared(
            X,
            sched,
            width=task["width"],
            n_steps=steps,
            batch=BATCH,
            learning_rate=LEARNING_RATE,
            seed=s,
            decay=True,
            skip=task.get("skip", False),
        )
        eps = net.eps
        out["steps"] = steps
        out["final_loss"] = float(net.losses[-max(1, steps // 20) :].mean())
    elif model == "adam-linear":
        net = nn.train_linear(X, sched, seed=s, decay=True, **LINEAR)
        eps = net.eps
        g = net.generated()
        den = ld.fit_linear_denoiser(X, sched)
        mu0 = X.mean(axis=0)
        train = ref.dense_losses(net.weights, sched, mu0, S0)
        best = ref.dense_losses(den.weights, sched, mu0, S0)
        out["exact_kl"] = float(ld.kl_divergence(g, rho))
        out["closed_kl"] = float(ld.exact_metrics(den, sched, rho, X).kl)
        out["excess_train"] = float(train.sum() / best.sum() - 1)
        out["final_loss"] = float(net.losses[-100:].mean())
    else:
        den = ld.fit_linear_denoiser(X, sched)
        eps = den.apply
        exact = ld.exact_metrics(den, sched, rho, X)
        out["exact_kl"] = float(exact.kl)
        out["f_spectrum"] = [float(v) for v in exact.generated.spectrum]
    out["train_seconds"] = round(time.time() - start, 2)
    U = ld.run_chain(eps, sched, SAMPLES, d, chain_rng)
    out.update(_summary(U, X, reference, rho, S0_top))
    keep = task.get("keep", 0)
    if keep:
        nearest = ld.nearest_training_point(U[:keep], X)[0]
        out["samples"] = np.round(U[:keep], 4).tolist()
        out["nearest"] = np.round(X[nearest], 4).tolist()
    return out


def run_early(task: dict) -> dict:
    """The Adam-trained linear model along its training, and gradient flow."""
    import lindiff_core as ld
    from lindiff import nn
    from lindiff import reference as ref

    sched = ld.linear_schedule()
    d, N, s = task["d"], task["N"], task["seed"]
    rho = population(d)
    X = rho.sample(N, np.random.default_rng([SEED, d, N, s]))
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    net = nn.train_linear(
        X,
        sched,
        n_steps=EARLY["n_steps"],
        batch=EARLY["batch"],
        learning_rate=EARLY["learning_rate"],
        seed=s,
        checkpoints=EARLY["checkpoints"],
    )
    adam = {"steps": net.trained_steps.tolist(), "train": [], "test": [], "kl": []}
    for i in range(len(net.history)):
        at = net.at(i)
        adam["train"].append(float(ref.dense_losses(at.weights, sched, mu0, S0).sum()))
        adam["test"].append(
            float(ref.dense_losses(at.weights, sched, rho.mean, rho.cov).sum())
        )
        adam["kl"].append(float(ld.kl_divergence(at.generated(), rho)))
    init = ld.random_init(d, sched, np.random.default_rng([SEED, d, N, s, 3]))
    flow = {"tau": TAUS, "train": [], "test": [], "kl": []}
    for tau in TAUS:
        den = ld.fit_from_init(X, sched, init, train_time=tau)
        flow["train"].append(float(ref.dense_losses(den.weights, sched, mu0, S0).sum()))
        flow["test"].append(
            float(ref.dense_losses(den.weights, sched, rho.mean, rho.cov).sum())
        )
        flow["kl"].append(
            float(ld.kl_divergence(ld.generated_distribution(den, sched), rho))
        )
    return {"adam": adam, "flow": flow}


def _key(task: dict) -> str:
    """The cache key: the configuration and every constant a run reads."""
    record = {"task": task, "constants": CONSTANTS}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:20]


def _compute(task: dict) -> dict:
    start = time.time()
    result = (run_early if task["data"] == "early" else run)(task)
    return {**result, "seconds": round(time.time() - start, 2)}


def _cached(task: dict) -> dict:
    path = CACHE / f"{_key(task)}.json"
    if path.exists():
        return json.loads(path.read_text())["result"]
    result = _compute(task)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"task": task, "result": result}))
    return result


def tasks(dims, ratios, seeds, fashion=True, sweeps=True) -> list[dict]:
    out = []
    for d in dims:
        base = {"data": "gaussian", "epochs": EPOCHS, "width": WIDTH_PER_D * d}
        for r in ratios:
            N = int(round(d * r))
            for s in range(seeds):
                for model in ("shared", "adam-linear", "closed"):
                    task = {**base, "d": d, "N": N, "seed": s, "model": model}
                    if model != "shared":
                        task.update(epochs=None, width=None)
                    out.append({"part": "transition", **task})
                if sweeps and d == SWEEP_D:
                    for e in BUDGETS:
                        task = {**base, "d": d, "N": N, "seed": s, "model": "shared"}
                        out.append({"part": "budget", **task, "epochs": e})
                    for w in WIDTHS:
                        task = {**base, "d": d, "N": N, "seed": s, "model": "shared"}
                        out.append({"part": "width", **task, "width": w})
                if sweeps and d == SKIP_D:
                    task = {**base, "d": d, "N": N, "seed": s, "model": "shared"}
                    out.append({"part": "skip", **task, "skip": True})
    if sweeps:
        for d in EARLY["dims"]:
            for s in range(seeds):
                out.append(
                    {"part": "early", "data": "early", "d": d, "N": d, "seed": s}
                )
    if fashion:
        for r in FASHION["ratios"]:
            for s in range(FASHION["seeds"]):
                base = {"data": "fashion", "d": 196, "N": int(196 * r), "seed": s}
                base["keep"] = FASHION["keep"] if s == 0 else 0
                for network in FASHION["networks"]:
                    out.append(
                        {"part": "fashion", **base, "model": "shared", **network}
                    )
                for model in ("adam-linear", "closed"):
                    task = {**base, "model": model, "epochs": None, "width": None}
                    out.append({"part": "fashion", **task})
    return out


def _cost(task: dict) -> float:
    """A rough cost, to start the longest configurations first."""
    if task["data"] == "early":
        return 30.0 * (task["d"] / 16) ** 2
    if task["model"] == "shared":
        return task["epochs"] * task["N"] / BATCH * 1e-3 * (task["width"] / 128) ** 1.5
    if task["model"] == "adam-linear":
        return LINEAR["n_steps"] * 1e-3 * (task["d"] / 16) ** 2
    return 1.0


def _memory_bound(task: dict) -> bool:
    """The linear models: Adam on a d x d matrix per step is bound by memory traffic,
    the networks by arithmetic."""
    return task["data"] == "early" or task["model"] != "shared"


def collect(todo: list[dict], workers: int, cache: bool = True) -> list[dict]:
    """Every configuration of ``todo`` run (or read from the cache), longest first. With
    two workers one takes the memory-bound configurations and the other the networks
    (each takes from the other queue when its own is empty): two memory-bound runs side
    by side slow each other down up to 2.5 times."""
    todo = sorted(todo, key=_cost, reverse=True)
    job = _cached if cache else _compute
    if workers == 1:
        return [{"task": t, "result": job(t)} for t in todo]
    queues = [
        [t for t in todo if _memory_bound(t)],
        [t for t in todo if not _memory_bound(t)],
    ]
    results = {}
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        running = {}

        def submit(q: int) -> None:
            queue = queues[q] or queues[1 - q]
            if queue:
                task = queue.pop(0)
                running[pool.submit(job, task)] = (q, _key(task))

        for i in range(workers):
            submit(i % 2)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                q, key = running.pop(future)
                results[key] = future.result()
                submit(q)
    return [{"task": t, "result": results[_key(t)]} for t in todo]


def configuration(dims, ratios, seeds) -> dict:
    import jax
    import optax

    return {
        "dims": dims,
        "ratios": ratios,
        "seeds": seeds,
        "k": K,
        "seed": SEED,
        "epochs": EPOCHS,
        "width_per_d": WIDTH_PER_D,
        "learning_rate": LEARNING_RATE,
        "batch": BATCH,
        "samples": SAMPLES,
        "linear": LINEAR,
        "early": EARLY,
        "sweep_d": SWEEP_D,
        "budgets": BUDGETS,
        "widths": WIDTHS,
        "fashion": FASHION,
        "seed_rule": (
            "population default_rng([seed, d]); training set s of size N "
            "default_rng([seed, d, N, s]); network start JAX key s; chain "
            "default_rng([seed, d, N, s, 1]); reference samples "
            "default_rng([seed, d, N, s, 2]); gradient-flow start "
            "default_rng([seed, d, N, s, 3])"
        ),
        "versions": {"jax": jax.__version__, "optax": optax.__version__},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smallest", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.smallest:
        c = SMALLEST
        rows = collect(
            tasks(c["dims"], c["ratios"], c["seeds"], fashion=False, sweeps=False),
            args.workers,
            cache=False,
        )
        print(json.dumps({"rows": rows}))
        return
    version = code_version()
    start = time.time()
    rows = collect(tasks(DIMS, RATIOS, SEEDS), args.workers)
    print(f"{len(rows)} configurations in {time.time() - start:.0f} s", file=sys.stderr)
    write(OUT, configuration(DIMS, RATIOS, SEEDS), version, "rows", rows)


if __name__ == "__main__":
    main()
