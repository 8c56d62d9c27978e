"""The phone's drawing of a figure (chapter 1 onwards: every figure of the book is drawn
twice, see :mod:`lindiff.layout`): the panels of a grid re-laid in the columns that fit
a phone's column, at most one and a half screens tall, with their labels."""

from __future__ import annotations

import numpy as np

#: CSS pixels per inch.
_PX_PER_INCH = 96

#: The tallest phone drawing, in inches: one and a half screens of a 390 x 844 px phone.
PHONE_HEIGHT = 1.5 * 844 / _PX_PER_INCH


class _PhoneLayout:
    """``fig`` redrawn ``width`` inches wide. The panels of its grid are cut into
    blocks of as many columns as fit (and split no panel): a row of three panels
    becomes a column of three. In a grid of plots each row's blocks follow one another,
    so the panels keep their reading order; in a grid of images the blocks of columns
    stand one under the other, each column keeping its title. A drawing that would be
    taller than :data:`PHONE_HEIGHT` takes more columns (two, or panels down to 80% of
    their width). Images keep their aspect; each plot is at least 80% (in a drawing
    still too tall, 60%) and at most 125% as tall as before. Tick labels hidden by
    shared axes are shown again. In columns narrower than drawn, a title or x label
    wider than its panel breaks onto two lines, and a panel that starts a row of the
    phone's grid without a y label takes that of its row's first panel; cut row by row,
    a panel of a lower row without a title takes that of its column's top panel. The
    grid, labels and size are restored on exit. ``widen=False``: the columns that fit,
    however tall (``widened`` says whether more were used)."""

    def __init__(self, fig, width: float, widen: bool = True):
        self.fig, self.width, self.widen = fig, width, widen
        self.widened = False

    def _plan(self, placed, nrows, ncols, pw, ph, k):
        """The phone's grid with blocks of ``k`` columns: ``(layout, heights, plots)``,
        where ``layout`` lists ``(ax, rows, cols)``, ``heights`` the rows' heights and
        ``plots`` which rows hold a plot (not only images). A grid of images is cut
        into blocks of columns, one under the other (each column keeps its title); a
        grid with plots, each in one row, is cut row by row, so that the panels keep
        their reading order (and their letters)."""
        blocks = -(-ncols // k)
        rowwise = _rowwise(placed)
        layout, extra = [], 0
        for ax, s in placed.items():
            b = s.colspan.start // k
            if _within(s, k):
                if rowwise:
                    rows = slice(
                        s.rowspan.start * blocks + b, s.rowspan.start * blocks + b + 1
                    )
                else:
                    rows = slice(
                        b * nrows + s.rowspan.start, b * nrows + s.rowspan.stop
                    )
                cols = slice(s.colspan.start - b * k, s.colspan.stop - b * k)
                layout.append((ax, rows, cols))
            else:  # across blocks: rows of its own, the full width, at the end
                start = blocks * nrows + extra
                extra += len(s.rowspan)
                layout.append((ax, slice(start, start + len(s.rowspan)), slice(0, k)))
        total = blocks * nrows + extra
        # a row of images (fixed aspect) scales with its width; a row of plots keeps
        # 80% to 125% of its height
        scale = (self.width / k) / pw
        plot = ph * min(max(scale, 0.8), 1.25)
        image = [0.0] * total  # None: a row with a plot
        for ax, rows, cols in layout:
            for r in range(rows.start, rows.stop):
                if ax.get_aspect() == "auto" or rows.stop - rows.start > 1:
                    image[r] = None
                elif image[r] is not None:  # its width times its aspect, and labels
                    wide = (cols.stop - cols.start) * self.width / k
                    tall = wide * ax.get_data_ratio() * ax.get_aspect() + 0.3
                    image[r] = max(image[r], tall)
        heights = np.array([plot if f is None else max(f, 0.05) for f in image])
        return layout, heights, np.array([f is None for f in image])

    def __enter__(self):
        fig = self.fig
        self.size = fig.get_size_inches().copy()
        self.specs = {ax: ax.get_subplotspec() for ax in fig.axes}
        self.ticks = {
            ax: (
                ax.xaxis.get_tick_params().get("labelbottom", True),
                ax.yaxis.get_tick_params().get("labelleft", True),
            )
            for ax in fig.axes
        }
        self.labels = {ax: ax.get_ylabel() for ax in fig.axes}
        w, h = self.size
        placed = {
            ax: s.get_topmost_subplotspec()
            for ax, s in self.specs.items()
            if s is not None
        }
        grids = {id(s.get_gridspec()) for s in placed.values()}
        self.texts = {}
        if len(grids) != 1:  # no single grid to lay out: narrower, as it is
            fig.set_size_inches(self.width, h * max(self.width / w, 0.8))
            for ax in fig.axes:
                width = (ax.get_position().width * self.width - 0.1) * fig.dpi
                self._wrap_labels(ax, width)
            return fig
        nrows, ncols = next(iter(placed.values())).get_gridspec().get_geometry()
        pw, ph = w / ncols, h / nrows
        widest = max(1, min(ncols, int(self.width / pw + 0.05)))
        fits = [
            k
            for k in range(ncols, 0, -1)
            if all(_within(s, k) for s in placed.values())
        ]
        k = next((k for k in fits if k <= widest), widest)
        layout, heights, plots = self._plan(placed, nrows, ncols, pw, ph, k)
        if heights.sum() > PHONE_HEIGHT and self.widen:
            # the fewest more columns (of panels at least 80% as wide as drawn, or two)
            # that bring the drawing within the height
            most = max(2, int(self.width / (0.8 * pw) + 0.05))
            for j in sorted(j for j in fits if k < j <= most):
                self.widened = True
                k = j
                layout, heights, plots = self._plan(placed, nrows, ncols, pw, ph, k)
                if heights.sum() <= PHONE_HEIGHT:
                    break
            room = 0.9 * PHONE_HEIGHT - heights[~plots].sum()  # labels take the rest
            if plots.any() and heights[plots].sum() > room:
                shrink = max(room / heights[plots].sum(), 0.6 * ph / heights[plots][0])
                heights[plots] *= min(shrink, 1.0)
        fig.set_size_inches(self.width, heights.sum())
        new = fig.add_gridspec(len(heights), k, height_ratios=heights)
        first = {}  # the y label of each row of the original grid, from its first panel
        for ax, s in sorted(placed.items(), key=lambda a: a[1].colspan.start):
            first.setdefault(s.rowspan.start, self.labels[ax])
        top = {}  # the title of each column of the original grid, from its top panel
        for ax, s in sorted(placed.items(), key=lambda a: a[1].rowspan.start):
            top.setdefault(s.colspan.start, ax.get_title())
        rowwise = _rowwise(placed)
        for ax, rows, cols in layout:
            ax.set_subplotspec(new[rows, cols])
            if k < ncols:
                ax.tick_params(labelbottom=True, labelleft=True)
                spec = placed[ax]
                if rowwise and spec.rowspan.start > 0 and not ax.get_title():
                    # cut row by row, a lower row no longer stands under its titles
                    self.texts.setdefault(ax.title, "")
                    ax.set_title(top[spec.colspan.start])
            if self.width / k < 0.99 * pw:  # narrower than drawn: long words wrap
                # the panel's share of the width, less its y labels' margin
                panel = (cols.stop - cols.start) * self.width / k
                width = (panel - 0.6) * fig.dpi
                self._wrap_labels(ax, width)
                if cols.start == 0 and not self.labels[ax]:
                    ax.set_ylabel(first[placed[ax].rowspan.start])
        return fig

    def _wrap_labels(self, ax, width: float) -> None:
        """Wrap the title and x label of ``ax`` to ``width`` pixels (kept for exit)."""
        for text in (ax.title, ax.xaxis.label):
            self.texts.setdefault(text, text.get_text())
            _wrap(text, width, self.fig._get_renderer())

    def __exit__(self, *exc):
        fig = self.fig
        for ax, spec in self.specs.items():
            if spec is not None:
                ax.set_subplotspec(spec)
            x_on, y_on = self.ticks[ax]
            ax.tick_params(labelbottom=x_on, labelleft=y_on)
            ax.set_ylabel(self.labels[ax])
        for text, original in self.texts.items():
            text.set_text(original)
        fig.set_size_inches(*self.size)
        return False


def _wrap(text, width: float, renderer) -> None:
    """Break ``text`` (a title or axis label) onto two lines, at the space outside its
    mathtext nearest its middle, when it is wider than ``width`` pixels."""
    words = text.get_text()
    if "\n" in words or text.get_window_extent(renderer).width <= width:
        return
    inside, spaces = False, []
    for i, ch in enumerate(words):
        if ch == "$" and (i == 0 or words[i - 1] != "\\"):
            inside = not inside
        elif ch == " " and not inside:
            spaces.append(i)
    if spaces:
        i = min(spaces, key=lambda j: abs(j - len(words) / 2))
        text.set_text(words[:i] + "\n" + words[i + 1 :])


def _rowwise(placed) -> bool:
    """Whether a grid (``placed``: axes and their subplot specs) is cut row by row on
    a phone: it holds a plot (not only images) and every panel lies in one row."""
    return any(ax.get_aspect() == "auto" for ax in placed) and all(
        len(s.rowspan) == 1 for s in placed.values()
    )


def _within(s, k) -> bool:
    """Whether the panel of subplot spec ``s`` lies within one block of ``k``
    columns."""
    return s.colspan.stop <= (s.colspan.start // k + 1) * k
