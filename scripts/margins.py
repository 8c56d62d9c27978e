"""Measure the margin of every rounding check of the book under several BLAS kernels.

    python scripts/margins.py [--kernels Haswell Sandybridge ...] [--notebooks ...]
    (make margins)

A rounding check (``lindiff.checks.close`` and the other checks of kind "rounding")
must leave at least a factor 100 between its limit and the error measured, because
other CPUs round differently. OpenBLAS picks its kernels at run time; the
environment variable ``OPENBLAS_CORETYPE`` forces older ones, so one machine can
measure several. For each kernel this script runs the test suite and executes the
notebooks with every ``Check`` recorded, then prints the smallest margin
``limit / value`` of each check over all kernels, and exits with status 1 if one is
below 100. Kernels that the CPU cannot run are skipped (OpenBLAS falls back silently,
so the kernel actually used is read back and reported).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ["Haswell", "SkylakeX", "Sandybridge", "Nehalem", "Prescott"]
REQUIRED = 100.0

# Code run first in every kernel and pytest session: wrap Check creation to record it.
RECORDER = """
import json as _json, os as _os, atexit as _atexit
from lindiff import checks as _lc
_records = []
_init = _lc.Check.__init__
def _recording_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if self.kind == "rounding":
        where = _os.environ.get("PYTEST_CURRENT_TEST",
                                _os.environ.get("LINDIFF_MARGINS_SOURCE", "?"))
        _records.append([where.split(" (")[0], self.name, float(self.value),
                         float(self.limit)])
_lc.Check.__init__ = _recording_init
def _dump():
    with open(_os.environ["LINDIFF_MARGINS"], "a") as f:
        for r in _records:
            f.write(_json.dumps(r) + "\\n")
    _records.clear()
_atexit.register(_dump)
"""


def kernel_in_use(env) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import numpy"],
        env={**env, "OPENBLAS_VERBOSE": "2"},
        capture_output=True,
        text=True,
    )
    lines = [
        ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Core:")
    ]
    return lines[0].split(":", 1)[1].strip() if lines else "unknown"


def run_notebook(path: Path, env) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(
        0, nbformat.v4.new_code_cell(RECORDER + "\n_atexit.unregister(_dump)")
    )
    nb.cells.append(nbformat.v4.new_code_cell("_dump()"))
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(
            nb,
            timeout=1800,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kernels", nargs="+", default=KERNELS)
    parser.add_argument(
        "--notebooks",
        nargs="*",
        type=lambda p: Path(p).resolve(),
        default=[ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))],
    )
    parser.add_argument("--no-tests", action="store_true")
    args = parser.parse_args(argv)
    records = Path(tempfile.mkdtemp()) / "margins.jsonl"
    seen = {}
    for kernel in args.kernels:
        env = {
            **os.environ,
            "OPENBLAS_CORETYPE": kernel,
            "OPENBLAS_NUM_THREADS": "1",
            "LINDIFF_MARGINS": str(records),
        }
        used = kernel_in_use(env)
        if used in seen.values():
            print(f"== {kernel}: runs as {used}, already measured; skipped", flush=True)
            continue
        seen[kernel] = used
        print(f"== {kernel} (OpenBLAS core {used})", flush=True)
        if not args.no_tests:
            hook = Path(tempfile.mkdtemp()) / "margins_hook.py"
            hook.write_text(RECORDER)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "tests",
                    "-m",
                    "not browser",
                    "-q",
                    "-p",
                    "margins_hook",
                    "-x",
                ],
                env={**env, "PYTHONPATH": str(hook.parent)},
                cwd=ROOT,
                check=True,
            )
        for nb in args.notebooks:
            print(f"   {nb.relative_to(ROOT)}", flush=True)
            run_notebook(
                nb, {**env, "LINDIFF_MARGINS_SOURCE": str(nb.relative_to(ROOT))}
            )
    worst = defaultdict(lambda: (float("inf"), 0.0, 0.0))
    for line in records.read_text().splitlines():
        source, name, value, limit = json.loads(line)
        if not value <= limit:
            continue  # a check fed a wrong answer on purpose (tests/test_checks.py)
        margin = limit / value if value > 0 else float("inf")
        key = (source, name)
        if margin < worst[key][0]:
            worst[key] = (margin, value, limit)
    low = 0
    print(f"\n{'smallest margin':>16}  {'error':>9}  {'limit':>9}  check")
    for (source, name), (margin, value, limit) in sorted(
        worst.items(), key=lambda kv: kv[1][0]
    ):
        flag = "" if margin >= REQUIRED else "   <-- below 100"
        low += margin < REQUIRED
        print(f"{margin:16.3g}  {value:9.2e}  {limit:9.2e}  {source}: {name}{flag}")
    print(
        f"\n{len(worst)} rounding checks, "
        f"kernels: {', '.join(sorted(set(seen.values())))}; "
        f"{low} with a margin below {REQUIRED:g}"
    )
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
