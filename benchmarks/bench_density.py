"""The limiting spectral density of Sigma_0 and the typical-case sweeps built on it,
timed in one run (d = 1000, power laws k = 1 and 2, N/d = 1/4 and 2).

For each case: the density itself (support, quadrature panels, the Silverstein
equation at every node; ``limiting_density``), then 200-point sweeps of the typical-case
test loss and KL divergences of the chain (``predict_metrics``: weight decays from 1e-5
to 10, training times from 0.1 to 1e7), each from a cold start (the contours are built
inside the call). The ratio printed is a sweep's time over the time of the exact
metrics of one simulated training set at the same d (``exact_metrics`` of one fit), the
cost of a single marker of the book's figures.

``--tiny`` runs the same code at d = 64 with 20-point sweeps (a smoke test).
"""

import sys

import numpy as np

import lindiff_core as ld
from lindiff.rmt import density
from timing import timed


def main(d=1000, points=200):
    sched = ld.linear_schedule()
    for k in (1.0, 2.0):
        lam = ld.power_law_spectrum(d, k)
        rho = ld.Gaussian.from_eigen(np.zeros(d), lam)
        for r in (0.25, 2.0):
            N = int(r * d)
            print(f"d = {d}, k = {k:g}, N/d = {r:g}:")
            density.clear_cache()
            timed(lambda: ld.limiting_density(lam, N), "limiting density")
            density.clear_cache()
            gammas = np.logspace(-5, 1, points)
            pm, t_gamma = timed(
                lambda: ld.predict_metrics(lam, N, sched, weight_decay=gammas),
                f"test loss and KL both ways, {points} weight decays",
            )
            taus = np.logspace(-1, 7, points)
            pm_tau, t_tau = timed(
                lambda: ld.predict_metrics(lam, N, sched, train_time=taus),
                f"test loss and KL both ways, {points} training times",
            )
            X = rho.sample(N, np.random.default_rng(0))
            _, t_one = timed(
                lambda: ld.exact_metrics(
                    ld.fit_linear_denoiser(X, sched, 1e-2), sched, rho, X
                ),
                "one simulated training set: fit and exact metrics",
            )
            print(
                f"  ratio sweep / one simulated set: {t_gamma / t_one:.1f} (weight "
                f"decay), {t_tau / t_one:.1f} (early stopping); largest estimated "
                f"quadrature error {max(pm.error.max(), pm_tau.error.max()):.0e}"
            )


if __name__ == "__main__":
    if "--tiny" in sys.argv[1:]:
        main(d=64, points=20)
    else:
        main()
