"""The one timer of the benchmark scripts (imported from their folder, which Python puts
on the path when a script runs)."""

import time


def timed(f, label=None):
    """``(f(), seconds)``; with a ``label``, also prints one aligned line."""
    t0 = time.perf_counter()
    out = f()
    dt = time.perf_counter() - t0
    if label is not None:
        print(f"  {label:60s} {dt:7.3f} s")
    return out, dt
