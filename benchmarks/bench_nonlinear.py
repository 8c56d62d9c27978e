"""The cost of chapter 8's models at the chapter's sizes, timed in one run.

d = 16, T = 1000, N = 64: training the per-step two-layer networks (600 Adam steps of
32 samples per network) and the shared perceptron (3000 Adam steps of 256 samples), the
first call of each including JIT compilation and the second reusing it (a training set
of another size, N = 16); then 1000 samples through the chain with each model, and the
ratio of each chain's time to the linear model's.

``--tiny`` runs the same code with 20 Adam steps and 50 samples (a smoke test).
"""

import sys

import numpy as np

import lindiff_core as ld
from lindiff import nn
from timing import timed


def main(per_step_steps=600, shared_steps=3000, n=1000):
    sched, d = ld.linear_schedule(), 16
    rho = ld.power_law_gaussian(d, 1.0, np.random.default_rng(0))
    X, X2 = (
        rho.sample(64, np.random.default_rng(1)),
        rho.sample(16, np.random.default_rng(2)),
    )
    print(f"d = {d}, T = {sched.T}:")
    trainers = {
        "per-step": (
            nn.train_per_step,
            dict(n_steps=per_step_steps, batch=32, learning_rate=1e-2),
        ),
        "shared": (
            nn.train_shared,
            dict(n_steps=shared_steps, batch=256, learning_rate=3e-3),
        ),
    }
    trained = {}  # the network of each kind trained on N = 64
    for label, (train, steps) in trainers.items():
        for N, data, note in [(64, X, "with compilation"), (16, X2, "compiled")]:
            net, _ = timed(
                lambda data=data: train(data, sched, **steps),
                f"train {label} ({steps['n_steps']} Adam steps, N = {N}, {note})",
            )
            if N == 64:
                trained[label] = net
    models = {
        "linear": ld.fit_linear_denoiser(X, sched).apply,
        "empirical": ld.empirical_denoiser(X, sched),
        "per-step": trained["per-step"].eps,
        "shared": trained["shared"].eps,
    }
    times = {}
    for name, eps in models.items():
        _, times[name] = timed(
            lambda eps=eps: ld.run_chain(eps, sched, n, d, np.random.default_rng(3)),
            f"{n} samples through the chain: {name}",
        )
    for name in ["empirical", "per-step", "shared"]:
        print(f"  ratio chain {name} / linear: {times[name] / times['linear']:.1f}")


if __name__ == "__main__":
    if "--tiny" in sys.argv[1:]:
        main(per_step_steps=20, shared_steps=20, n=50)
    else:
        main()
