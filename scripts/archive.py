"""Write the book's whole source to one zip archive, for readers of the static book.

    python scripts/archive.py --out _build/html/book-source.zip

In a git checkout the archive holds the files git tracks, as they are in the working
tree; elsewhere (the source unpacked from such an archive) every file below the project
folder except what the build and the set-up create. The notebooks are stored without
their outputs (the figures are on the book's pages, and five sixths of the notebooks'
bytes): ``make book`` executes them, and ``make test`` first executes in place those
that carry none (``scripts/chapters.py restore``), then runs its checks. The archive
unpacks into one folder, ``linear-diffusion-book/``. ``make book`` writes it next to the
book's pages, where the introduction links to it.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The build's own way of storing a notebook without its outputs (its downloads).
_spec = importlib.util.spec_from_file_location("page", ROOT / "_ext" / "book_page.py")
book_page = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_page)
PREFIX = "linear-diffusion-book"
# What the set-up and the build create, never part of the source.
SKIP = {
    ".venv",
    "_build",
    "_vendor",
    "_data",
    "node_modules",
    ".git",
    "figures",
    "__pycache__",
}


def source_files() -> list[Path]:
    """The files of the source, relative to the project folder, sorted."""
    if (ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        files = [Path(f) for f in out.split("\0") if f]
    else:
        files = [
            p.relative_to(ROOT)
            for p in ROOT.rglob("*")
            if p.is_file()
            and not SKIP.intersection(p.relative_to(ROOT).parts)
            and not p.name.endswith((".pyc", ".egg-info"))
        ]
    return sorted(f for f in files if (ROOT / f).is_file())


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("_build/html/book-source.zip"))
    args = parser.parse_args(argv)
    files = source_files()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            name = f"{PREFIX}/{f.as_posix()}"
            if f.suffix == ".ipynb":
                text = (ROOT / f).read_text(encoding="utf-8")
                zf.writestr(name, book_page.strip_outputs(text))
            else:
                zf.write(ROOT / f, name)
    print(f"{len(files)} files of the source in {args.out}")
    return args.out


if __name__ == "__main__":
    main()
