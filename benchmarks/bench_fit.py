"""Fitting the optimal linear denoiser at N = 4096, d = 2048, against one dense eigh.

Prints the time of ``fit_linear_denoiser`` and its ratio to one ``numpy.linalg.eigh``
of a d x d symmetric matrix, measured in the same run (the fit needs one
eigen-decomposition of the empirical covariance plus O(N d^2) to form it).
``--tiny`` runs the same code at N = 64, d = 32 (a smoke test).
"""

import sys
import time

import numpy as np

import lindiff_core as ld


def best_of(f, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(N=4096, d=2048):
    rng = np.random.default_rng(0)
    sched = ld.linear_schedule()
    X = ld.power_law_gaussian(d, 1.0, rng).sample(N, rng)
    A = np.cov(X.T)
    t_eigh = best_of(lambda: np.linalg.eigh(A))
    t_fit = best_of(lambda: ld.fit_linear_denoiser(X, sched))
    t_loss = (
        best_of(lambda: ld.train_loss(ld.fit_linear_denoiser(X, sched), sched, X))
        - t_fit
    )
    print(f"fit_linear_denoiser, N = {N}, d = {d}: {t_fit:.2f} s")
    print(f"one numpy.linalg.eigh of a {d} x {d} matrix: {t_eigh:.2f} s")
    print(f"ratio fit / eigh: {t_fit / t_eigh:.2f}")
    print(
        f"exact train loss at all {sched.T} steps on top of the fit: "
        f"{max(t_loss, 0):.2f} s"
    )


if __name__ == "__main__":
    main(64, 32) if "--tiny" in sys.argv[1:] else main()
