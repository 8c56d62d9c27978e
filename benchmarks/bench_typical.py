"""Sweeps of the typical-case predictions, timed in one run (d = 256 and d = 1000, k = 1).

Each line is a sweep over 200 points of one prediction, printed with its time:
the renormalized ridge kappa over 200 ridges c; the KL divergence, the missing
variance and the summed train and test losses over 200 sample sizes N (each
summed loss needs the root for every one of the T = 1000 steps: 200 000 roots).
"""

import time

import numpy as np

import lindiff_core as ld


def timed(label, f):
    t0 = time.perf_counter()
    f()
    dt = time.perf_counter() - t0
    print(f"  {label:55s} {dt:6.3f} s")
    return dt


def main():
    sched = ld.linear_schedule()
    for d in (256, 1000):
        lam = ld.power_law_spectrum(d, 1.0)
        Ns = np.unique(np.geomspace(8, 16 * d, 400).astype(int))[:200]
        cs = np.logspace(-10, 0, 200)
        print(f"d = {d}, 200-point sweeps:")
        timed("kappa over 200 ridges c (N = d/2)", lambda: ld.silverstein_kappa(lam, d // 2, cs))
        timed("KL(rho_N || rho) over 200 N", lambda: [ld.predict_kl(lam, int(N), 1e-4) for N in Ns])
        timed("missing variance over 200 N",
              lambda: [ld.predict_missing_variance(lam, int(N)) for N in Ns])
        timed("summed train and test loss over 200 N (T = 1000 steps each)",
              lambda: [ld.predict_losses(lam, int(N), sched) for N in Ns])


if __name__ == "__main__":
    main()
