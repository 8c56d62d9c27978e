"""The exact road at scale, against one eigh and against Monte-Carlo.

1. Fit + exact generated distribution + KL(rho_N || rho) at d = 4096, N = 8192
   (rho: the power-law Gaussian in its own eigenbasis, k = 1), as a ratio to the
   time of one numpy.linalg.eigh of a 4096 x 4096 symmetric matrix, same run.
2. The same pipeline at N = 256, d = 16384 (low rank + isotropic rest), in seconds.
3. For comparison, the usual road at d = 256, N = 128: Monte-Carlo sampling through
   the reverse chain, its time, and the accuracy of the covariance and of the KL it
   reaches, next to the exact road's time and accuracy (against a dense propagation
   of the covariance through the T affine steps, ``lindiff.reference.dense_generated``).

``--tiny`` runs the same code at sizes divided by 64 (a smoke test).
"""

import sys

import numpy as np

import lindiff_core as ld
from lindiff import reference as ref
from timing import timed


def pipeline(X, sched, rho):
    den = ld.fit_linear_denoiser(X, sched)
    rho_N = ld.generated_distribution(den, sched)
    return den, rho_N, ld.kl_divergence(rho_N, rho)


def main(scale=1):
    sched = ld.linear_schedule()
    rng = np.random.default_rng(0)

    d, N = 4096 // scale, 8192 // scale
    rho = ld.power_law_gaussian(d, 1.0)
    X = rho.sample(N, rng)
    A = np.cov(X[: 2 * d].T)
    _, t_eigh = timed(lambda: np.linalg.eigh(A))
    (_, _, kl), t_pipe = timed(lambda: pipeline(X, sched, rho))
    print(
        f"[1] d = {d}, N = {N}: fit + exact rho_N + KL = {t_pipe:.2f} s; "
        f"one eigh of {d} x {d} = {t_eigh:.2f} s; ratio {t_pipe / t_eigh:.2f} "
        f"(KL/d = {kl / d:.4f}, d/(4N) = {d / (4 * N):.4f})"
    )

    d, N = 16384 // scale, 256 // scale
    rho = ld.power_law_gaussian(d, 1.0)
    X = rho.sample(N, rng)
    (_, _, kl), t_pipe = timed(lambda: pipeline(X, sched, rho))
    print(
        f"[2] d = {d}, N = {N}: fit + exact rho_N + KL = {t_pipe:.2f} s "
        f"(KL/d = {kl / d:.3f})"
    )

    d, N, n = 256 // scale, 128 // scale, 4000 // scale
    rho = ld.power_law_gaussian(d, 1.0, rng)
    X = rho.sample(N, rng)
    (den, rho_N, kl), t_exact = timed(lambda: pipeline(X, sched, rho))
    (_, S_dense), t_dense = timed(lambda: ref.dense_generated(den, sched))
    U, t_mc = timed(lambda: ld.sample(den, sched, n, rng))
    S_exact = rho_N.cov
    err_exact = np.linalg.norm(S_exact - S_dense) / np.linalg.norm(S_dense)
    err_mc = np.linalg.norm(np.cov(U.T) - S_dense) / np.linalg.norm(S_dense)
    kl_mc = ld.kl_divergence(ld.Gaussian(U.mean(axis=0), np.cov(U.T)), rho)
    print(
        f"[3] d = {d}, N = {N}: exact road {t_exact:.3f} s, "
        f"covariance error {err_exact:.1e}, "
        f"KL = {kl:.2f}"
    )
    print(
        f"    Monte-Carlo through the chain, n = {n}: {t_mc:.1f} s "
        f"({t_mc / t_exact:.0f} x the exact road), covariance error {err_mc:.1e}, "
        f"KL of its Gaussian fit = {kl_mc:.2f} "
        f"(relative error {abs(kl_mc / kl - 1):.0%})"
    )
    print(f"    dense propagation of the covariance (the reference): {t_dense:.1f} s")


if __name__ == "__main__":
    main(64) if "--tiny" in sys.argv[1:] else main()
