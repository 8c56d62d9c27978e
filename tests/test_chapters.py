"""Structural checks of the chapter notebooks (the house rules of the book)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text())


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_chapters():
    assert CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_follows_the_house_rules(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = _code(nb)
    source = "\n".join("".join(c["source"]) for c in cells)
    # every code cell executed and its outputs committed, in order
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, "unexecuted code cells: run `make outputs`"
    assert counts == sorted(counts)
    # imports the core, no path tricks, no star imports
    assert "import lindiff_core as ld" in source
    assert "sys.path" not in source and "import *" not in source
    # randomness only through seeded generators
    assert "default_rng()" not in source and "np.random.seed" not in source
    assert not re.search(r"np\.random\.(rand|randn|normal|uniform)\(", source)
    # at least one verification cell: an assert followed by a printed line
    assert any("assert" in "".join(c["source"]) and "print(" in "".join(c["source"]) for c in cells)
    # code lines fit the page
    long = [line for line in source.splitlines() if len(line) > 88]
    assert not long, f"code lines over 88 characters: {long[:3]}"
    # every plotting cell ends with plt.show() and carries a named, captioned figure
    for c in cells:
        src = "".join(c["source"])
        if "plt.subplots" in src and "widgets" not in src and "def " not in src.split("plt.subplots")[0]:
            assert src.rstrip().endswith("plt.show()")
            fig = c["metadata"].get("mystnb", {}).get("figure", {})
            assert fig.get("caption") and fig.get("name"), "figure without caption or label"
    # explorers are tagged so that nbval ignores their output
    for c in cells:
        if "widgets.interact" in "".join(c["source"]):
            assert "nbval-ignore-output" in c["metadata"].get("tags", [])


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_outputs_are_deterministic_text(path):
    """No memory addresses, timings or dates in the committed outputs."""
    for c in _code(_load(path)):
        for out in c.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            if "nbval-ignore-output" in c["metadata"].get("tags", []):
                continue
            assert not re.search(r"0x[0-9a-f]{6,}", text)
            assert not re.search(r"\d+(\.\d+)? ?(ms|µs|seconds)\b", text)
            assert not re.search(r"20\d\d-\d\d-\d\d", text)
