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


def test_render_executes_each_notebook_once_into_a_cache(notebook, tmp_path):
    """``render`` executes a notebook once; an unchanged notebook and code come from
    the cache; an edit of the notebook or of the code it imports executes it again;
    the source tree holds the executed copy and links to the rest."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "lindiff").mkdir()
    (book / "lindiff" / "core.py").write_text("x = 1\n")
    (book / "_toc.yml").write_text("root: intro\n")
    nb = book / "chapters" / notebook.name
    nb.write_bytes(notebook.read_bytes())
    script = ROOT / "scripts" / "chapters.py"
    args = [script, "render", "--root", book, "--out", tmp_path / "src"]
    args += ["--cache", tmp_path / "cache", nb]
    assert "executing chapters/tiny-chapter.ipynb" in _run(*args)
    executed = nbformat.read(tmp_path / "src" / "chapters" / nb.name, as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert (tmp_path / "src" / "_toc.yml").is_symlink()
    assert nbformat.read(nb, as_version=4).cells[0].execution_count is None
    assert "cached    chapters/tiny-chapter.ipynb" in _run(*args)
    (book / "lindiff" / "core.py").write_text("x = 2\n")
    assert "executing chapters/tiny-chapter.ipynb" in _run(*args)
    assert "cached" in _run(*args)
    edited = nbformat.read(nb, as_version=4)
    edited.cells[0].source += "\ny = 4"
    nbformat.write(edited, nb)
    assert "executing chapters/tiny-chapter.ipynb" in _run(*args)
    assert len(list((tmp_path / "cache").iterdir())) == 1  # one copy per notebook


def test_restore_executes_only_the_notebooks_without_outputs(notebook, tmp_path):
    """``restore`` (``make stored-outputs``) executes in place a notebook stored
    without outputs, as the source archive holds them, and leaves one that carries
    outputs untouched."""
    script = ROOT / "scripts" / "chapters.py"
    kept = tmp_path / "kept.ipynb"
    kept.write_bytes(notebook.read_bytes())
    _run(script, "execute", kept)
    stamp = kept.read_bytes()
    out = _run(script, "restore", notebook, kept)
    assert f"executing {notebook}" in out and "kept.ipynb" not in out
    executed = nbformat.read(notebook, as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert kept.read_bytes() == stamp


def test_the_source_archive_stores_the_notebooks_without_outputs(tmp_path):
    """scripts/archive.py: the whole source, the notebooks without their outputs."""
    import json
    import zipfile

    target = tmp_path / "book-source.zip"
    _run(ROOT / "scripts" / "archive.py", "--out", target)
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        books = [n for n in names if n.endswith(".ipynb")]
        cells = [
            c
            for n in books
            for c in json.loads(zf.read(n))["cells"]
            if c["cell_type"] == "code"
        ]
    assert "linear-diffusion-book/lindiff_core.py" in names
    assert len(books) == len(list(ROOT.glob("chapters/*.ipynb"))) + 1  # the intro
    assert cells and all(c["outputs"] == [] for c in cells)


def test_an_unpacked_archive_is_archived_without_what_gitignore_excludes(tmp_path):
    """Outside a git checkout (the source unpacked from the archive, after make test
    ran there) the archive leaves out what .gitignore names: caches, the build, the
    installed package's metadata."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "archive", ROOT / "scripts" / "archive.py"
    )
    archive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(archive)
    (tmp_path / ".gitignore").write_text("# made\n_build/\n.hypothesis/\n*.egg-info/\n")
    for name in ["a.py", ".ci/run", "_build/x.html", ".hypothesis/c/1", "p.egg-info/P"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    got = [f.as_posix() for f in archive.source_files(tmp_path)]
    assert got == [".ci/run", ".gitignore", "a.py"]


def test_the_core_does_not_import_jax():
    code = "import sys, lindiff_core, lindiff.checks, lindiff.reference, lindiff.plot\n"
    code += "assert not any(m.split('.')[0] in ('jax', 'optax') for m in sys.modules)"
    _run("-c", code)
