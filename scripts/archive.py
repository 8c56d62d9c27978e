"""Write the book's whole source to one zip archive, for readers of the static book.

    python scripts/archive.py --out _build/html/book-source.zip

In a git checkout the archive holds the files git tracks, as they are in the working
tree; elsewhere (the source unpacked from such an archive) every file below the project
folder that ``.gitignore`` does not exclude (what the set-up, the build, the tests and
the tools create). The notebooks are stored without
their outputs (the figures are on the book's pages, and five sixths of the notebooks'
bytes): ``make book`` executes them, and ``make test`` first executes in place those
that carry none (``scripts/chapters.py restore``), then runs its checks. The archive
unpacks into one folder, ``linear-diffusion-book/``. ``make book`` writes it next to the
book's pages, where the introduction links to it.
"""

from __future__ import annotations

import argparse
import fnmatch
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


def ignored(rel: Path, patterns: list[str]) -> bool:
    """Whether a path (relative to the project folder) is what the set-up, the build,
    the tests or the tools create: a part of it matches a pattern of ``.gitignore``
    (or is ``.git``)."""
    return any(
        part == ".git" or any(fnmatch.fnmatch(part, pat) for pat in patterns)
        for part in rel.parts
    )


def source_files(root: Path = ROOT) -> list[Path]:
    """The files of the source, relative to the project folder ``root``, sorted."""
    if (root / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
        ).stdout.decode()
        files = [Path(f) for f in out.split("\0") if f]
    else:
        lines = (root / ".gitignore").read_text().splitlines()
        patterns = [x.strip().rstrip("/") for x in lines if x.strip()]
        patterns = [x for x in patterns if not x.startswith("#")]
        files = [
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and not ignored(p.relative_to(root), patterns)
        ]
    return sorted(f for f in files if (root / f).is_file())


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
