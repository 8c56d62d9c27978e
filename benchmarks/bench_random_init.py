"""Training from a random start (chapter 7): the dense road against the eigen road.

A denoiser trained from random initial weights (``fit_from_init``) is dense, so its
generated law is pushed through the T reverse steps as d x d matrices, O(T d^3), where
the flow from ``W = 0`` needs O(T r). Prints, from one run at d = 64 and d = 128, the
time of ``exact_metrics`` for both (the random start's including its fit) and their
ratio, and the ratio of fit plus dense law to 2 T products of d x d matrices, the
floor of any dense propagation.
``--tiny`` runs the same code at d = 8 (a smoke test).
"""

import sys

import numpy as np
from timing import timed

import lindiff_core as ld


def main(dims=(64, 128)):
    sched = ld.linear_schedule()
    for d in dims:
        rng = np.random.default_rng(0)
        rho = ld.power_law_gaussian(d, 1.0, rng)
        X = rho.sample(d // 4, rng)
        init = ld.random_init(d, sched, rng)
        print(f"d = {d}, N = {d // 4}, T = {sched.T}, tau = 3:")
        zero = ld.fit_linear_denoiser(X, sched, train_time=3.0)
        timed(lambda: ld.fit_from_init(X, sched, init, 3.0), "fit_from_init")
        _, t_law = timed(
            lambda: ld.generated_distribution(
                ld.fit_from_init(X, sched, init, 3.0), sched
            ),
            "fit_from_init + dense generated law",
        )
        _, t_zero = timed(
            lambda: ld.exact_metrics(zero, sched, rho, X), "exact_metrics, from W = 0"
        )
        _, t_rand = timed(
            lambda: ld.exact_metrics(
                ld.fit_from_init(X, sched, init, 3.0), sched, rho, X
            ),
            "fit_from_init + exact_metrics, from a random start",
        )
        A = rng.standard_normal((d, d))
        _, t_mm = timed(
            lambda: [A @ A for _ in range(2 * sched.T)], f"{2 * sched.T} products A @ A"
        )
        print(f"  ratio metrics random start / W = 0: {t_rand / t_zero:.0f}")
        print(f"  ratio fit + dense law / 2T matrix products: {t_law / t_mm:.1f}")


if __name__ == "__main__":
    main((8,)) if "--tiny" in sys.argv[1:] else main()
