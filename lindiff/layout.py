"""Figures drawn for the column they are shown in, and checked for legibility.

Every figure of the book is drawn twice (:func:`figure_png`): :data:`COLUMN` inches wide
for a desktop's article column and :data:`PHONE` inches wide, its panels stacked in the
columns that fit, for a phone's. Before drawing, :func:`tidy` moves legends off the data
and thins crowded tick labels; :func:`figure_report` measures the drawing (smallest
font, overlapping tick labels, legends on data, text cut off) and each PNG carries its
report (:func:`figure_stamp`). :class:`PhoneFigures` puts both drawings in the built
page. :func:`lindiff.plot.use_style` installs :func:`figure_png` as IPython's display
of a figure.
"""

from __future__ import annotations

import functools
import json
import re

import numpy as np

from lindiff._phone import _PX_PER_INCH, PHONE_HEIGHT, _PhoneLayout, _wrap

__all__ = [
    "COLUMN",
    "PHONE",
    "PHONE_HEIGHT",
    "DENSITY",
    "tidy",
    "figure_report",
    "figure_png",
    "figure_stamp",
    "letter_panels",
    "phone_layout",
    "PhoneFigures",
]

#: Where the book's figures are shown, in inches at 96 CSS px per inch. The article
#: column is 672 px wide on a desktop and 342 px on a phone (a 390 px screen). A figure
#: drawn ``COLUMN`` inches wide shows its fonts at their size in points on a desktop;
#: every figure is also drawn a second time, ``PHONE`` inches wide with its panels in
#: the columns that fit (:func:`figure_png`), for narrow screens.
COLUMN, PHONE = 7.0, 3.55
#: The ``gid`` of a panel's letter.
_LETTER = "lindiff-letter"
#: Pixels stored per CSS pixel in a figure's PNG (sharp on high-density screens).
DENSITY = 2


def _in(xy, box):
    """Which of the points ``xy`` (n x 2, pixels) lie inside ``box``."""
    return (
        (xy[:, 0] > box.x0)
        & (xy[:, 0] < box.x1)
        & (xy[:, 1] > box.y0)
        & (xy[:, 1] < box.y1)
    )


def _drawn_points(ax, step=2.0):
    """Display coordinates (pixels) of the data drawn in ``ax``: the vertices of its
    lines, with points every ``step`` pixels along their segments, and the markers and
    segments of its collections; only those inside the axes."""
    chunks = []
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(line.get_xydata())
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy) > 1 and line.get_linestyle() not in ("None", "none", " ", ""):
            gaps = np.hypot(*np.diff(xy, axis=0).T)
            for a, b, n in zip(xy[:-1], xy[1:], np.ceil(gaps / step).astype(int)):
                if n > 1:
                    chunks.append(a + np.linspace(0, 1, n)[:, None] * (b - a))
        chunks.append(xy)
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        offsets = np.asarray(coll.get_offsets())
        if offsets.size and hasattr(coll, "get_sizes") and len(coll.get_sizes()):
            chunks.append(coll.get_offset_transform().transform(offsets))
        if hasattr(coll, "get_segments"):
            for seg in coll.get_segments():
                xy = coll.get_transform().transform(np.asarray(seg))
                chunks.append(xy)
    if not chunks:
        return np.empty((0, 2))
    xy = np.concatenate(chunks)
    return xy[_in(xy, ax.get_window_extent())]


_PLACES = [
    "upper right",
    "upper left",
    "lower left",
    "lower right",
    "center right",
    "center left",
    "upper center",
    "lower center",
]


def _covered(legend, xy) -> int:
    """How many of the points ``xy`` the legend covers (1 px inside its edge)."""
    return int(np.sum(_in(xy, legend.get_window_extent().padded(-1))))


def _overlapping(axis, box) -> bool:
    """Whether two tick labels of ``axis`` (inside the axes ``box``) overlap."""
    x = axis.axis_name == "x"
    lo, hi = (0, 2) if x else (1, 3)
    labels = [
        t
        for t in axis.get_ticklabels(which="both")
        if t.get_visible() and t.get_text().strip()
    ]
    if len(labels) < 2:
        return False
    ext = np.array([t.get_window_extent().extents for t in labels])
    mid = (ext[:, lo] + ext[:, hi]) / 2
    span = (box.x0, box.x1) if x else (box.y0, box.y1)
    ext = ext[(mid >= span[0] - 1) & (mid <= span[1] + 1)]
    ext = ext[np.argsort(ext[:, lo])]
    return bool(np.any(ext[:-1, hi] - ext[1:, lo] > 0.5))


def _sparse(inner, step: int):
    """A tick formatter that labels every ``step``-th major tick as ``inner`` does and
    leaves the others blank (their ticks stay)."""
    from matplotlib.ticker import FixedFormatter

    class Sparse(FixedFormatter):
        def format_ticks(self, values):
            labels = inner.format_ticks(values)
            return [t if i % step == 0 else "" for i, t in enumerate(labels)]

        def get_offset(self):
            return inner.get_offset()

    return Sparse([])


def _cut(item, page) -> bool:
    """Whether ``item`` (a text or a legend) reaches past the box ``page`` (by 1 px)."""
    box = item.get_window_extent()
    return (
        box.x0 < page.x0 - 1
        or box.x1 > page.x1 + 1
        or box.y0 < page.y0 - 1
        or box.y1 > page.y1 + 1
    )


def _crowded_titles(ax) -> list:
    """The pairs ``(letter, title)`` of ``ax`` (its panel letter, see
    :func:`letter_panels`) that touch or come closer than 4 pt."""
    letters = [t for t in ax.texts if t.get_gid() == _LETTER and t.get_visible()]
    titles = [
        t
        for t in (ax.title, ax._left_title)
        if t.get_visible() and t.get_text().strip()
    ]
    return [
        (letter, title)
        for letter in letters
        for title in titles
        if letter.get_window_extent()
        .padded(4 * ax.figure.dpi / 72)
        .overlaps(title.get_window_extent())
    ]


def tidy(fig, drawn: bool = False) -> None:
    """Lay out what the reader has to read, at the figure's present size: a legend
    inside its axes that covers drawn data moves to the first of eight places where it
    covers none, or else under the axes (below its x label; the figure grows by its
    height); a figure's legend below or above the panels that is wider than the figure
    takes fewer columns; a title that reaches its panel's letter, or a title or x label
    cut off at the figure's edge, breaks onto two lines (and a letter still too close
    to its title goes above it);
    tick labels that overlap are thinned (fewer major ticks, no
    minor labels on a log axis), or else only every second or third one labelled."""
    from matplotlib.ticker import MaxNLocator, NullFormatter

    if not drawn:  # ``drawn``: laid out as it is now (by figure_report)
        fig.draw_without_rendering()  # layout and positions, no pixels
    moved = False
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        under = legend.get_gid() == "lindiff-under"  # put there by an earlier tidy
        anchor = legend.get_bbox_to_anchor()
        if anchor.bounds != ax.bbox.bounds and not under:  # placed by hand
            continue
        xy = _drawn_points(ax)
        if _covered(legend, xy) == 0 and not under:
            continue
        moved = True
        for place in [] if under else _PLACES:
            legend.set_loc(place)
            if _covered(legend, xy) == 0:
                break
        else:  # under the axes and its x label: two columns, or one if two are too wide
            from matplotlib.transforms import offset_copy

            below = [ax.xaxis.label, *ax.xaxis.get_ticklabels()]
            low = min(
                (t.get_window_extent().y0 for t in below if t.get_text().strip()),
                default=ax.bbox.y0,
            )
            drop = (ax.bbox.y0 - low) * 72 / fig.dpi + 2  # points
            title, texts = legend.get_title(), legend.get_texts()
            style = dict(
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
                bbox_transform=offset_copy(
                    ax.transAxes, fig=fig, y=-drop, units="points"
                ),
                title=title.get_text() or None,
                title_fontsize=title.get_fontsize(),
                fontsize=texts[0].get_fontsize() if texts else None,
            )
            handles, labels = ax.get_legend_handles_labels()
            legend.remove()
            for columns in (2, 1):  # two columns if they fit in the figure's width
                legend = ax.legend(handles, labels, ncols=columns, **style)
                legend.set_gid("lindiff-under")
                if legend.get_window_extent().width <= 0.95 * fig.bbox.width:
                    break
            # the figure grows by the legend's height, so that the axes keep theirs
            w, h = fig.get_size_inches()
            grown = legend.get_window_extent().height / fig.dpi + drop / 72
            fig.set_size_inches(w, h + grown)
    for legend in list(fig.legends):  # a figure's legend wider than the figure
        side = getattr(legend, "_outside_loc", None)  # loc="outside lower center"
        if side not in ("lower", "upper"):
            continue
        fig.draw_without_rendering()
        if legend.get_window_extent().width <= 0.98 * fig.bbox.width:
            continue
        moved = True
        texts = legend.get_texts()
        labels = [t.get_text() for t in texts]
        # the entries' own artists where the axes hold them (an error bar's legend
        # proxy alone draws no marker), else the legend's proxies
        drawn = {}
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                drawn.setdefault(label, handle)
        handles = [drawn.get(n, h) for n, h in zip(labels, legend.legend_handles)]
        legend.remove()
        for columns in range(len(labels) - 1, 0, -1):
            legend = fig.legend(
                handles,
                labels,
                loc=f"outside {side} center",
                ncols=columns,
                fontsize=texts[0].get_fontsize(),
            )
            fig.draw_without_rendering()  # layout and positions, no pixels
            if legend.get_window_extent().width <= 0.98 * fig.bbox.width:
                break
            legend.remove()
    if moved:
        fig.draw_without_rendering()  # where the legends moved
    for ax in fig.axes:  # a title that reaches its panel's letter: two lines
        for _, title in _crowded_titles(ax):
            _wrap(title, 0, fig._get_renderer())
            moved = True
        for text in (ax.title, ax.xaxis.label):  # past the figure's edge: two lines
            if text.get_text().strip() and _cut(text, fig.bbox):
                _wrap(text, 0, fig._get_renderer())
                moved = True
    if moved:
        fig.draw_without_rendering()
    for ax in fig.axes:  # still too close on two lines: the letter goes above the title
        for letter, title in _crowded_titles(ax):
            x, y = letter.xyann
            height = title.get_window_extent().height * 72 / fig.dpi  # points
            letter.xyann = (x, y + height + 5)  # 4 pt clear of it
            fig.draw_without_rendering()
    for ax in fig.axes:
        box = ax.get_window_extent()
        for axis in (ax.xaxis, ax.yaxis):
            if not _overlapping(axis, box):
                continue
            if axis.get_scale() == "log":
                axis.set_minor_formatter(NullFormatter())
            for bins in (5, 4, 3, 2):
                fig.draw_without_rendering()  # layout and positions, no pixels
                if not _overlapping(axis, box):
                    break
                if axis.get_scale() == "linear":
                    axis.set_major_locator(MaxNLocator(nbins=bins))
            # ticks placed by hand or by decades: label every second (third) tick
            inner = axis.get_major_formatter()
            for step in (2, 3):
                fig.draw_without_rendering()
                if not _overlapping(axis, box):
                    break
                axis.set_major_formatter(_sparse(inner, step))


def _smallest_glyph(text) -> float:
    """The size in pt of the smallest glyph of a matplotlib ``Text`` as drawn: its font
    size for plain text, the smallest glyph of mathtext's layout for text with math."""
    size = text.get_fontsize()
    if text.get_usetex():
        return size
    smallest = [size]
    for line in text.get_text().split("\n"):
        if text._preprocess_math(line)[1]:
            parsed = _math_parser().parse(line, 72, text.get_fontproperties())
            smallest += [g[1] for g in parsed.glyphs]
    return min(smallest)


@functools.cache
def _math_parser():
    from matplotlib.mathtext import MathTextParser

    return MathTextParser("path")


def figure_report(fig, warned: list | None = None) -> dict:
    """What a reader could not read in ``fig`` as drawn at its own size: the smallest
    font (pt), tick labels that overlap, legends that cover drawn data, titles, labels
    or legends cut off at the figure's edge, and a layout that collapsed.

    Returns ``{"min_font_pt", "min_glyph_pt", "width_in", "problems"}``: the smallest
    font size and the smallest glyph drawn (mathtext draws sub- and superscripts, the
    parts of a fraction and the limits of a sum smaller than its font, by 0.7 per
    level); ``problems`` lists each fault
    in words (empty when there is none). ``warned``: the figure was just drawn, with
    these warnings (it is not laid out again).
    """
    from matplotlib.text import Text

    if warned is None:
        warned = _laid_out(fig.draw_without_rendering)
    page = fig.bbox
    shown = [
        t
        for t in fig.findobj(Text)
        if t.get_visible()
        and t.get_text().strip()
        and t.get_window_extent().overlaps(page)
    ]
    sizes = [t.get_fontsize() for t in shown]
    glyphs = [_smallest_glyph(t) for t in shown]
    problems = [
        f"layout: {w.message}" for w in warned if "constrained_layout" in str(w.message)
    ]
    words = [fig._suptitle, *fig.legends] if fig._suptitle else list(fig.legends)
    for ax in fig.axes:
        words += [ax.title, ax._left_title, ax._right_title, ax.get_legend()]
        words += [ax.xaxis.label, ax.yaxis.label]
    for item in words:
        if item is None or not item.get_visible():
            continue
        if isinstance(item, Text) and not item.get_text().strip():
            continue
        if _cut(item, page):
            name = item.get_text() if isinstance(item, Text) else "a legend"
            problems.append(f"{name!r} is cut off at the edge of the figure")
    for n, ax in enumerate(fig.axes):
        box = ax.get_window_extent()
        for axis in (ax.xaxis, ax.yaxis):
            if _overlapping(axis, box):
                problems.append(f"axes {n}: {axis.axis_name} tick labels overlap")
        for letter, title in _crowded_titles(ax):
            problems.append(
                f"{letter.get_text()} touches its title {title.get_text()!r}"
            )
    legends = [(ax.get_legend(), [ax]) for ax in fig.axes if ax.get_legend()]
    legends += [(leg, fig.axes) for leg in fig.legends]
    for legend, axes in legends:
        if not legend.get_visible():
            continue
        for ax in axes:
            covered = _covered(legend, _drawn_points(ax))
            if covered:
                title = ax.get_title() or f"axes {fig.axes.index(ax)}"
                problems.append(f"{title}: the legend covers {covered} drawn points")
    return {
        "min_font_pt": float(min(sizes)) if sizes else None,
        "min_glyph_pt": float(min(glyphs)) if glyphs else None,
        "width_in": float(fig.get_size_inches()[0]),
        "problems": problems,
    }


def _laid_out(draw) -> list:
    """Call ``draw`` (which lays the figure out); the warnings it gave."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return caught


def _png(fig, layout: str, dpi: float) -> bytes:
    """``fig`` as a PNG of 256 colours (a third of the bytes of a true-colour one, and
    the same picture for line art), with its :func:`figure_report` (after
    :func:`tidy` if the report found a problem), ``layout`` and ``dpi`` in its
    ``lindiff-figure`` text chunk. The drawing lays the figure out for the report."""
    import io

    from PIL import Image, PngImagePlugin

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # The whole figure, laid out to fill it, drawn once on an Agg canvas: the pixels
    # savefig would write, without its second (layout-only) drawing.
    canvas = fig.canvas if hasattr(fig.canvas, "buffer_rgba") else FigureCanvasAgg(fig)

    def draw():
        canvas.draw()

    screen = fig.dpi
    fig.set_dpi(dpi)  # the report measures the drawing as it was drawn
    try:
        report = figure_report(fig, _laid_out(draw))
        if report["problems"]:
            tidy(fig, drawn=True)
            report = figure_report(fig, _laid_out(draw))
    finally:
        fig.set_dpi(screen)
    # the pixels of the last drawing, in the renderer's own shape (h, w, 4)
    image = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    image = image.quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    info = PngImagePlugin.PngInfo()
    info.add_text("lindiff-figure", json.dumps(dict(report, layout=layout, dpi=dpi)))
    out = io.BytesIO()
    image.save(out, format="png", optimize=True, pnginfo=info)
    return out.getvalue()


def figure_webp(png: bytes) -> bytes:
    """A PNG of :func:`figure_png` as a lossless WebP, the same pixels in about a
    quarter fewer bytes (what the built book serves), its :func:`figure_stamp` kept in
    an XMP packet."""
    import html
    import io

    from PIL import Image

    stamp = html.escape(json.dumps(figure_stamp(png)), quote=True)
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:lindiff="lindiff:" lindiff:figure="{stamp}"/></rdf:RDF></x:xmpmeta>'
    )
    out = io.BytesIO()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.save(out, "webp", lossless=True, quality=75, method=4, xmp=xmp.encode())
    return out.getvalue()


def figure_stamp(png: bytes) -> dict | None:
    """The :func:`figure_report` a PNG of :func:`figure_png` (or its
    :func:`figure_webp`) carries, with the ``layout`` and the ``dpi`` it was drawn at;
    None for any other image."""
    import struct

    if png[:4] == b"RIFF" and png[8:12] == b"WEBP":
        import html

        at = 12  # chunks of type, little-endian length, data (padded to even)
        while at + 8 <= len(png):
            (length,) = struct.unpack("<I", png[at + 4 : at + 8])
            data = png[at + 8 : at + 8 + length]
            found = re.search(rb'lindiff:figure="([^"]*)"', data)
            if png[at : at + 4] == b"XMP " and found:
                return json.loads(html.unescape(found.group(1).decode()))
            at += 8 + length + length % 2
        return None
    at = 8  # after the PNG signature: chunks of length, type, data, CRC
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"tEXt":
            key, _, text = png[at + 8 : at + 8 + length].partition(b"\0")
            if key == b"lindiff-figure":
                return json.loads(text.decode("latin-1"))
        if kind == b"IEND":
            break
        at += 12 + length
    return None


def _panels(fig) -> list:
    """The plots of ``fig`` a caption refers to, in reading order of its grid (row by
    row): axes placed in a grid, with their axis drawn, not images or colour bars."""
    placed = []
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        image = bool(ax.images)  # an image (a plot drawn with equal axes is a panel)
        if spec is None or not ax.axison or image or ax.get_label() == "<colorbar>":
            continue
        spec = spec.get_topmost_subplotspec()
        placed.append(((spec.rowspan.start, spec.colspan.start), ax))
    return [ax for _, ax in sorted(placed, key=lambda p: p[0])]


def letter_panels(fig) -> None:
    """Letter the panels of ``fig`` (a), (b), ... in reading order (row by row of its
    grid; plots only, not images or colour bars), when it has two or more: in bold,
    above the panel's top left corner, left of where a title starts (the layout makes
    room for it). Done once per figure, and not for a figure whose titles already carry
    the letters; captions refer to the letters, which stay right when a phone stacks
    the panels."""
    panels = _panels(fig)
    marked = any(re.match(r"\([a-z]\) ", ax.get_title()) for ax in panels)
    if len(panels) < 2 or marked or getattr(fig, "_lindiff_lettered", False):
        return
    for i, ax in enumerate(panels):
        ax.annotate(
            f"({chr(ord('a') + i)})",
            xy=(0, 1),
            xycoords="axes fraction",
            xytext=(-4, 6),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontweight="bold",
            gid=_LETTER,
        )
    fig._lindiff_lettered = True


def phone_layout(fig, width: float = PHONE, widen: bool = True):
    """A context manager: inside it ``fig`` is laid out as its phone drawing is
    (``width`` inches wide, its panels in the columns that fit, at most
    :data:`PHONE_HEIGHT` tall where more columns allow it); on exit the figure is as it
    was. ``widen=False``: the columns that fit, however tall. :func:`figure_png` draws
    the phone's PNG inside it."""
    return _PhoneLayout(fig, width, widen)


def figure_png(fig, encode: bool = False, density: int = DENSITY):
    """``fig`` as the book shows it: ``(png, metadata)``, the PNG drawn at
    ``density`` pixels per CSS pixel, and ``metadata["phone"]`` the same figure redrawn
    ``PHONE`` inches wide (panels in the columns that fit), its panels lettered
    (:func:`letter_panels`). ``metadata["width"]`` is the
    width in CSS px; each PNG carries :func:`figure_report` of its layout in its
    ``lindiff-figure`` text chunk. With ``encode`` both are base64 text (as IPython
    stores images in a notebook)."""
    import base64

    dpi = density * _PX_PER_INCH
    letter_panels(fig)
    wide = _png(fig, "desktop", dpi)
    laid_out = phone_layout(fig)
    with laid_out:
        phone = _png(fig, "phone", dpi)
    if laid_out.widened and figure_stamp(phone)["problems"]:
        # more columns did not fit this figure's labels: those that fit, however tall
        with phone_layout(fig, widen=False):
            phone = _png(fig, "phone", dpi)
    widths = [int.from_bytes(b[16:20], "big") // density for b in (wide, phone)]
    if encode:
        wide, phone = (base64.b64encode(b).decode() for b in (wide, phone))
    return wide, {"width": widths[0], "phone": phone, "phone_width": widths[1]}


class PhoneFigures:
    """The book's figures in the built pages (a myst-nb mime renderer, registered as
    the entry point ``myst_nb.mime_renderers: lindiff-figures``): an image shown by
    :func:`figure_png` becomes two, classed ``lp-desktop`` and ``lp-phone``, of which
    the book's style sheet shows the one drawn for the width of the screen."""

    mime_priority_overrides = ()

    @staticmethod
    def handle_mime(renderer, data, inline: bool):
        import dataclasses

        meta = data.output_metadata.get(data.mime_type, {})
        if inline or data.mime_type != "image/png" or "phone" not in meta:
            return None
        desktop = renderer.render_image(data)
        phone = renderer.render_image(
            dataclasses.replace(
                data,
                content=meta["phone"],
                output_metadata={"image/png": {"width": meta["phone_width"]}},
            )
        )
        desktop[0]["classes"].append("lp-desktop")
        phone[0]["classes"].append("lp-phone")
        return desktop + phone
