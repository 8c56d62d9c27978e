"""Structural checks of the book's notebooks (the house rules), the introduction
included.
"""

import json
import re
from pathlib import Path

import pytest
from conftest import MIN_FONT_PT, MIN_GLYPH_PT, shown_pt

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [ROOT / "intro.ipynb"] + sorted((ROOT / "chapters").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
# A figure's claim is checked in its own cell or in a code cell at most this many code
# cells away (the verification cell just before or after the figure).
NEARBY = 2


def _load(path):
    return json.loads(path.read_text())


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell):
    return "".join(cell["source"])


def _tags(cell):
    return cell["metadata"].get("tags", [])


def _is_explorer(cell):
    return "lp.Explorer(" in _src(cell)


def _has_image(cell):
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _verifies(cell):
    """An asserted statement: an ``assert`` whose cell prints what it checked."""
    src = _src(cell)
    printed = any(o.get("name") == "stdout" for o in cell.get("outputs", []))
    return bool(re.search(r"^\s*assert\b", src, re.M)) and printed


def test_there_are_chapters():
    assert len(NOTEBOOKS) > 1 and NOTEBOOKS[0].name == "intro.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_house_rules(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = _code(nb)
    source = "\n".join(_src(c) for c in cells)
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
    # code lines fit the page (the line length of `ruff format`)
    long = [line for line in source.splitlines() if len(line) > 88]
    assert not long, f"code lines over 88 characters: {long[:3]}"
    # explorers are tagged so that nbval ignores their output
    for c in cells:
        if _is_explorer(c):
            assert "nbval-ignore-output" in _tags(c)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_figure_is_named_captioned_and_checked_nearby(path):
    cells = _code(_load(path))
    figures = [i for i, c in enumerate(cells) if _has_image(c) and not _is_explorer(c)]
    assert figures, "a page of the book without a figure"
    for i in figures:
        cell = cells[i]
        fig = cell["metadata"].get("mystnb", {}).get("figure", {})
        assert fig.get("caption") and fig.get("name"), (
            f"figure without caption or label: {_src(cell)[:80]}"
        )
        assert _src(cell).rstrip().endswith("plt.show()")
        near = cells[max(0, i - NEARBY) : i + NEARBY + 1]
        assert any(_verifies(c) for c in near), (
            f"figure {fig['name']} has no asserted statement nearby"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_are_deterministic_text(path):
    """No memory addresses, timings or dates in the committed outputs."""
    for c in _code(_load(path)):
        if "nbval-ignore-output" in _tags(c):
            continue
        for out in c.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(
                out.get("data", {}).get("text/plain", "")
            )
            assert not re.search(r"0x[0-9a-f]{6,}", text)
            assert not re.search(r"\d+(\.\d+)? ?(ms|µs|seconds)\b", text)
            assert not re.search(r"20\d\d-\d\d-\d\d", text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_downloaded_notebook_says_what_it_needs(path):
    """A note for the reader of the .ipynb alone (removed from the book's page): the
    modules it imports and how to get them."""
    nb = _load(path)
    notes = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "markdown" and "remove-cell" in _tags(c)
    ]
    assert len(notes) == 1, "no note (or more than one) on what the notebook needs"
    text = _src(notes[0])
    code = "\n".join(_src(c) for c in _code(nb))
    for module in re.findall(r"^import (lindiff_\w+)", code, re.M):
        assert f"`{module}`" in text, f"the note does not name {module}"
    assert "book-source.zip" in text and "make book" in text


# Where the book shows its figures: the article column at 1280 px and at 390 px (the
# browser check measures the sizes actually displayed).
COLUMN_PX = {"desktop": 672, "phone": 342}


def _figures(nb):
    """Every figure stored in the notebook's outputs: the two PNGs (desktop, phone) of
    each image and of each explorer frame."""
    import base64

    for c in _code(nb):
        for out in c.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                phone = out.get("metadata", {}).get("image/png", {}).get("phone")
                yield _src(c)[:60], base64.b64decode(data["image/png"]), "desktop"
                yield _src(c)[:60], base64.b64decode(phone or ""), "phone"
            html = "".join(data.get("text/html", ""))
            frames = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
            for n, frame in enumerate(frames):
                yield f"explorer frame {n}", base64.b64decode(frame), None


def _reading_size(stamp, png, layout, key="min_font_pt"):
    """The smallest text (``key="min_glyph_pt"``: glyph) of a figure in pt as shown in
    the column of ``layout``."""
    natural = int.from_bytes(png[16:20], "big")
    css = natural * 96 / stamp["dpi"]  # the width it is drawn for, in CSS px
    return shown_pt(stamp, natural, min(css, COLUMN_PX[layout]), key)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_figure_reads_at_the_size_shown(path):
    """Each figure was drawn twice (lindiff.layout.figure_png) and reads in both
    columns: no text under 8 pt, no overlapping tick labels, no legend on the data; the
    phone's drawing at most one and a half screens (of 390 x 844 px) tall."""
    from lindiff.layout import figure_stamp

    seen = 0
    for where, png, drawing in _figures(_load(path)):
        stamp = figure_stamp(png)
        assert stamp is not None, f"{where}: a figure without its report ({drawing})"
        assert drawing in (None, stamp["layout"]), f"{where}: {stamp['layout']}"
        assert stamp["problems"] == [], f"{where} ({stamp['layout']}): " + "; ".join(
            stamp["problems"]
        )
        size = _reading_size(stamp, png, stamp["layout"])
        assert size >= MIN_FONT_PT, (
            f"{where}: text of {size:.1f} pt ({stamp['layout']})"
        )
        glyph = _reading_size(stamp, png, stamp["layout"], "min_glyph_pt")
        assert glyph >= MIN_GLYPH_PT, (
            f"{where}: a glyph of {glyph:.1f} pt ({stamp['layout']})"
        )
        if stamp["layout"] == "phone":  # at most one and a half screens tall, as shown
            natural = [int.from_bytes(png[i : i + 4], "big") for i in (16, 20)]
            scale = min(1.0, COLUMN_PX["phone"] / (natural[0] * 96 / stamp["dpi"]))
            tall = natural[1] * 96 / stamp["dpi"] * scale
            assert tall <= 1.5 * 844, f"{where}: {tall:.0f} px tall on a phone"
        seen += 1
    assert seen > 0


def test_the_reading_size_check_fails_on_a_figure_too_wide_or_too_small():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lindiff import layout
    from lindiff import plot as lp

    lp.use_style()
    sizes = {}
    for width, font in [(lp.COLUMN, 9), (9.5, 9), (lp.COLUMN, 7)]:
        fig, ax = plt.subplots(figsize=(width, 3))
        ax.plot([1, 2, 3], [1, 4, 9])
        ax.set_xlabel("x", fontsize=font)
        png, meta = layout.figure_png(fig)
        plt.close(fig)
        sizes[width, font] = _reading_size(layout.figure_stamp(png), png, "desktop")
    assert sizes[lp.COLUMN, 9] >= MIN_FONT_PT
    assert sizes[9.5, 9] < MIN_FONT_PT  # shrunk to the column: 6.6 pt
    assert sizes[lp.COLUMN, 7] < MIN_FONT_PT


def test_the_glyph_check_sees_what_mathtext_shrinks():
    """A label at 9 pt reads; its subscript (one level, 6.3 pt) passes; a subscript of
    a subscript or a fraction in a subscript (4.4 pt) fails."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lindiff import layout
    from lindiff import plot as lp

    lp.use_style()
    glyphs = {}
    for label in ["$L_t$", "$x_{t_1}$", r"$e^{\frac{1}{2}}$"]:
        fig, ax = plt.subplots(figsize=(lp.COLUMN, 3))
        ax.plot([1, 2, 3], [1, 4, 9])
        ax.set_ylabel(label, fontsize=9)
        png, meta = layout.figure_png(fig)
        plt.close(fig)
        stamp = layout.figure_stamp(png)
        glyphs[label] = _reading_size(stamp, png, "desktop", "min_glyph_pt")
    assert glyphs["$L_t$"] >= MIN_GLYPH_PT
    assert glyphs["$x_{t_1}$"] < MIN_GLYPH_PT
    assert glyphs[r"$e^{\frac{1}{2}}$"] < MIN_GLYPH_PT


def test_every_reference_links_to_its_source():
    """Each entry of the bibliography carries a DOI, an arXiv identifier, a URL or an
    ISBN; only a talk has none of them."""
    from pybtex.database import parse_file

    for key, entry in parse_file(ROOT / "references.bib").entries.items():
        ids = {"doi", "eprint", "url", "isbn"} & {f.lower() for f in entry.fields}
        talk = entry.fields.get("howpublished", "").startswith("Talk")
        assert ids or talk, f"{key}: no DOI, arXiv identifier, URL or ISBN"
