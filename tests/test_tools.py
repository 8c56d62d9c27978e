"""The project's scripts and benchmarks run, at tiny sizes, as `make test` runs them.

The benchmarks print measured times and ratios (never asserted: timing belongs to
`make bench`); here each must finish and print its ratio lines. ``scripts/chapters.py``
executes a two-cell notebook, writes its named figure and extracts its code.
"""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def _run(*args, cwd=ROOT):
    done = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("path", BENCHMARKS, ids=[p.stem for p in BENCHMARKS])
def test_benchmark_runs_at_tiny_size(path):
    out = _run(path, "--tiny")
    assert "ratio" in out or " x the exact road" in out, out


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nx = [1, 2, 3]"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot(x)\nplt.show()"),
    ]
    nb.cells[1].metadata["mystnb"] = {
        "figure": {"name": "fig-tiny", "caption": "A line."}
    }
    path = tmp_path / "tiny-chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_chapters_script_executes_writes_figures_and_extracts_code(notebook, tmp_path):
    script = ROOT / "scripts" / "chapters.py"
    _run(script, "execute", notebook)
    executed = nbformat.read(notebook, as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2]
    _run(script, "figures", "--out", tmp_path / "figures", notebook)
    png = (tmp_path / "figures" / "fig-tiny.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    _run(script, "code", "--out", tmp_path / "code", notebook)
    code = (tmp_path / "code" / "tiny_chapter.py").read_text()
    assert "x = [1, 2, 3]" in code and "plt.show()" in code


def test_the_core_does_not_import_jax():
    code = "import sys, lindiff_core, lindiff.checks, lindiff.reference, lindiff.plot\n"
    code += "assert not any(m.split('.')[0] in ('jax', 'optax') for m in sys.modules)"
    _run("-c", code)
