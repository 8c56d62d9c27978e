"""Execute the book's chapters, or write their figures to files.

    python scripts/chapters.py execute chapters/*.ipynb         # re-run in place (make
    outputs) python scripts/chapters.py figures --out figures chapters/*.ipynb   # (make
    figures) python scripts/chapters.py code --out DIR intro.ipynb chapters/*.ipynb  #
    code cells as .py

Each notebook runs in its own folder, like in the book build. ``figures`` writes
every figure that carries a name in its cell metadata (``mystnb.figure.name``,
the label the book uses) to ``OUT/<name>.png``; the notebooks are not modified.
``code`` writes the code cells of each notebook, in order, to ``OUT/<stem>.py``
(nothing is executed), so that tools made for modules (a duplicate finder, a
linter) can read the chapters' code next to the core and the tests.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600


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
    parser.add_argument("command", choices=["execute", "figures", "code"])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("figures"))
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute(args.notebooks)
    elif args.command == "figures":
        figures(args.notebooks, args.out)
    else:
        code(args.notebooks, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
