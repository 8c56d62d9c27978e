"""Write the book's whole source to one zip archive, for readers of the static book.

    python scripts/archive.py --out _build/html/book-source.zip

In a git checkout the archive holds the files git tracks, as they are in the working
tree; elsewhere (the source unpacked from such an archive) every file below the project
folder except what the build and the set-up create. The archive unpacks into one
folder, ``linear-diffusion-book/``, in which ``make book`` builds the book and ``make
test`` runs its checks. ``make book`` writes it next to the book's pages, where the
introduction links to it.
"""

from __future__ import annotations

import argparse
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
            zf.write(ROOT / f, f"{PREFIX}/{f.as_posix()}")
    print(f"{len(files)} files of the source in {args.out}")
    return args.out


if __name__ == "__main__":
    main()
