"""Sweeps of the typical-case predictions, timed in one run (d = 256 and d = 1000, k =
1).

Each line is a sweep over 200 points of one prediction, printed with its time:
the renormalized ridge kappa over 200 ridges c; the KL divergence, the missing
variance and the summed train and test losses over 200 sample sizes N (each
summed loss needs the root for every one of the T = 1000 steps: 200 000 roots).
Then the ratio of ``scipy.optimize.elementwise.find_root`` (Chandrupatla, no
derivative; ``lindiff.reference.kappa_find_root``) to the core's bracketed Newton
iteration on the same roots, with the largest relative difference between them.

``--tiny`` runs the same code at d = 32 with 20-point sweeps (a smoke test).
"""

import sys

import numpy as np

import lindiff_core as ld
from lindiff import reference as ref
from timing import timed


def main(dims=(256, 1000), points=200):
    sched = ld.linear_schedule()
    for d in dims:
        lam = ld.power_law_spectrum(d, 1.0)
        Ns = np.unique(np.geomspace(8, 16 * d, 2 * points).astype(int))[:points]
        cs = np.logspace(-10, 0, points)
        print(f"d = {d}, {points}-point sweeps:")
        timed(
            lambda: ld.silverstein_kappa(lam, d // 2, cs),
            f"kappa over {points} ridges c (N = d/2)",
        )
        timed(
            lambda: [ld.predict_kl(lam, int(N), 1e-4) for N in Ns],
            f"KL(rho_N || rho) over {points} N",
        )
        timed(
            lambda: [ld.predict_missing_variance(lam, int(N)) for N in Ns],
            f"missing variance over {points} N",
        )
        timed(
            lambda: [ld.predict_losses(lam, int(N), sched) for N in Ns],
            f"summed train and test loss over {points} N (T = 1000 steps each)",
        )
        for N in (d // 2, 4 * d):
            c = sched.noise_to_signal
            a, t_newton = timed(
                lambda: ld.silverstein_kappa(lam, N, c),
                f"kappa at the T = 1000 ridges c_t, N = {N}: Newton",
            )
            b, t_root = timed(
                lambda: ref.kappa_find_root(lam, N, c),
                f"kappa at the T = 1000 ridges c_t, N = {N}: find_root",
            )
            print(
                f"  ratio find_root / Newton: {t_root / t_newton:.1f} "
                f"(largest relative difference {np.max(np.abs(a / b - 1)):.1e})"
            )


if __name__ == "__main__":
    if "--tiny" in sys.argv[1:]:
        main(dims=(32,), points=20)
    else:
        main()
