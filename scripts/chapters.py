"""Execute the book's chapters, or write their figures to files.

    python scripts/chapters.py execute chapters/*.ipynb   # in place (make outputs)
    python scripts/chapters.py restore intro.ipynb chapters/*.ipynb
    python scripts/chapters.py render --out _build/src intro.ipynb chapters/*.ipynb
    python scripts/chapters.py figures --out figures chapters/*.ipynb  # (make figures)
    python scripts/chapters.py code --out DIR intro.ipynb chapters/*.ipynb  # as .py

Each notebook runs in its own folder, like in the book build. ``restore`` executes in
place, two at a time, the notebooks that carry no outputs (the source archive,
``book-source.zip``, holds them so) and leaves the others as they are: what the build
of ``make test`` renders and nbval compares against. ``render`` executes each
notebook once into a cache keyed on the notebook (its cells, outputs aside) and on the
source of the code it imports (``lindiff_core.py``, the package ``lindiff/``, the
pinned requirements), two at a time, and lays out the book's source under ``OUT`` with
the executed notebooks in place of the stored ones (everything else is linked), for a
build that renders them without executing again; a notebook whose key is in the cache
is not executed. ``figures`` writes
every figure that carries a name in its cell metadata (``mystnb.figure.name``,
the label the book uses) to ``OUT/<name>.png``; the notebooks are not modified.
``code`` writes the code cells of each notebook, in order, to ``OUT/<stem>.py``
(nothing is executed), so that tools made for modules (a duplicate finder, a
linter) can read the chapters' code next to the core and the tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600
ROOT = Path(__file__).resolve().parents[1]
# What a notebook's outputs depend on besides its own cells.
CODE = ["lindiff_core.py", "lindiff/**/*.py", "requirements.txt", "pyproject.toml"]
# Never part of the book's source tree.
SKIP = {"_build", "_data", "node_modules", "figures", "__pycache__"}


def run(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def execute(paths: list[Path]) -> None:
    for path in paths:
        print(f"executing {path}", flush=True)
        nbformat.write(run(path), path)


def has_outputs(path: Path) -> bool:
    """Whether a code cell of the notebook carries an output."""
    nb = nbformat.read(path, as_version=4)
    return any(c.cell_type == "code" and c.outputs for c in nb.cells)


def restore(paths: list[Path], jobs: int = 2) -> None:
    todo = [path for path in paths if not has_outputs(path)]
    for path in todo:
        print(f"executing {path} (it carries no outputs)", flush=True)
    _execute_all({p: p for p in todo}, jobs)


def key(path: Path, root: Path = ROOT) -> str:
    """The cache key of a notebook: its cells and metadata without outputs, and the
    source of the code it runs (below ``root``)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    digest = hashlib.sha256(nbformat.writes(nb).encode())
    for pattern in CODE:
        for f in sorted(root.glob(pattern)):
            digest.update(f.relative_to(root).as_posix().encode() + b"\0")
            digest.update(f.read_bytes())
    return digest.hexdigest()[:20]


def _execute_to(path: Path, target: Path) -> Path:
    """Execute ``path`` (one BLAS thread) and write it to ``target``."""
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    nb = run(path)
    tmp = target.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)
    return target


def _execute_all(targets: dict[Path, Path], jobs: int) -> None:
    """Execute each notebook (a key) into its target (the value), ``jobs`` at a time."""
    if targets:
        with ProcessPoolExecutor(min(jobs, len(targets))) as pool:
            done = [pool.submit(_execute_to, p, t) for p, t in targets.items()]
            for future in done:
                future.result()


def render(
    paths: list[Path], out: Path, cache: Path, jobs: int = 2, root: Path = ROOT
) -> None:
    """Execute what the cache lacks and lay out the book's source tree ``root`` under
    ``out`` with the executed notebooks."""
    cache.mkdir(parents=True, exist_ok=True)
    cached = {}
    for path in paths:
        rel = path.resolve().relative_to(root)
        name = f"{rel.as_posix().replace('/', '--')}.{key(path, root)}.ipynb"
        cached[rel] = cache / name
    todo = {rel: c for rel, c in cached.items() if not c.exists()}
    for rel in cached:
        print(f"{'executing' if rel in todo else 'cached   '} {rel}", flush=True)
    _execute_all({root / rel: c for rel, c in todo.items()}, jobs)
    for rel, c in cached.items():  # one executed copy per notebook is kept
        for old in cache.glob(c.name.split(".")[0] + ".*.ipynb"):
            if old != c:
                old.unlink()
    # the source tree: links to everything, the executed notebooks in place
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    folders = {rel.parent for rel in cached} - {Path(".")}
    for entry in sorted(root.iterdir()):
        rel = entry.relative_to(root)
        hidden = entry.name.startswith(".") or entry.name.endswith(".egg-info")
        if hidden or entry.name in SKIP or rel in cached or rel in folders:
            continue
        (out / rel).symlink_to(entry)
    for folder in folders:
        (out / folder).mkdir(parents=True)
        for entry in sorted((root / folder).iterdir()):
            if entry.relative_to(root) not in cached:
                (out / folder / entry.name).symlink_to(entry)
    for rel, c in cached.items():
        shutil.copyfile(c, out / rel)
    print(f"the book's source with {len(cached)} executed notebooks in {out}")


def figures(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        print(f"executing {path}", flush=True)
        nb = run(path)
        for cell in nb.cells:
            name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
            if cell.cell_type != "code" or not name:
                continue
            pngs = [
                o["data"]["image/png"]
                for o in cell.get("outputs", [])
                if "image/png" in o.get("data", {})
            ]
            for i, png in enumerate(pngs):
                target = out / (
                    f"{name}.png" if len(pngs) == 1 else f"{name}-{i + 1}.png"
                )
                target.write_bytes(base64.b64decode(png))
                print(f"  wrote {target}")


def code(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        target = out / f"{path.stem.replace('-', '_')}.py"
        target.write_text("\n\n\n".join(cells) + "\n")
        print(f"wrote {target}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = ["execute", "restore", "render", "figures", "code"]
    parser.add_argument("command", choices=commands)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("figures"))
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "notebooks")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder")
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute(args.notebooks)
    elif args.command == "restore":
        restore(args.notebooks, args.jobs)
    elif args.command == "render":
        render(args.notebooks, args.out, args.cache, args.jobs, args.root.resolve())
    elif args.command == "figures":
        figures(args.notebooks, args.out)
    else:
        code(args.notebooks, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
