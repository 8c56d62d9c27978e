"""Figure style and explorer helpers shared by the chapters of the book.

Kept apart from :mod:`lindiff_core`, whose functions never plot. Every chapter
calls :func:`use_style` once; colours come from :data:`COLORS` (Okabe & Ito's
colour-blind-safe palette). Theory is drawn as lines, simulation as markers
(:func:`simulation`). One function per kind of figure, drawing into a given ``ax``:
the static figure of a chapter and its interactive explorer call the same one.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

from lindiff.layout import _PX_PER_INCH, COLUMN, DENSITY, PHONE, figure_png

__all__ = [
    "COLORS",
    "METRICS",
    "COLUMN",
    "PHONE",
    "use_style",
    "simulation",
    "spectrum",
    "losses",
    "log2_axis",
    "Explorer",
]

#: Okabe & Ito (2008) palette, safe for the common forms of colour blindness.
COLORS = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]

#: Axis labels of the three metrics of the sweeps (chapters 6, 7), in the order of
#: ``[summed test loss, KL(rho_N || rho), KL(rho || rho_N)] / d``.
METRICS = [
    "summed test loss / d",
    r"$D_{\mathrm{KL}}(\rho_N\|\rho)/d$",
    r"$D_{\mathrm{KL}}(\rho\|\rho_N)/d$",
]

_STYLE = {
    "figure.figsize": (COLUMN, 3.2),
    "figure.dpi": _PX_PER_INCH,
    "savefig.dpi": DENSITY * _PX_PER_INCH,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "figure.constrained_layout.use": True,
    "mathtext.fontset": "cm",
}


def use_style() -> None:
    """Apply the book's matplotlib style (idempotent). In IPython, figures are then
    shown through :func:`~lindiff.layout.figure_png`: sharp, checked for legibility, and
    with a second layout for phones."""
    mpl.rcParams.update(_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.switch_backend(mpl.get_backend())  # the backend registers its formatters first
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda fig: figure_png(fig, encode=True))


def simulation(ax, x, y, yerr=None, **kw):
    """Draw simulated values: open markers (with error bars when ``yerr`` is given), no
    line.
    """
    kw.setdefault("marker", "o")
    kw.setdefault("linestyle", "none")
    kw.setdefault("markerfacecolor", "none")
    if yerr is None:
        return ax.plot(x, y, **kw)
    return ax.errorbar(x, y, yerr=yerr, capsize=2, **kw)


def log2_axis(ax, axis: str, values) -> None:
    """Make ``axis`` (``"x"`` or ``"y"``) of ``ax`` logarithmic in base 2, with ticks at
    ``values`` only, labelled as fractions (1/8, 1/4, 1/2, 1, 2...)."""
    from fractions import Fraction

    from matplotlib.ticker import NullLocator

    getattr(ax, f"set_{axis}scale")("log", base=2)
    labels = [str(Fraction(v).limit_denominator(64)) for v in values]
    getattr(ax, f"set_{axis}ticks")(values, labels)
    getattr(ax, f"{axis}axis").set_minor_locator(NullLocator())


def spectrum(
    ax,
    data,
    generated,
    training=None,
    floor=None,
    floor_label=None,
    generated_label=r"generated $f(\Sigma_0)$",
    title=None,
):
    """Eigenvalues by rank on log-log axes (chapters 2, 6, 7).

    ``data`` and ``generated`` are Gaussians or their spectra (eigenvalues in decreasing
    order). ``data``: the spectrum of ``Sigma`` (grey line); ``generated``: that of
    ``rho_N`` (line; zero values, which a log axis cannot show, are left out), labelled
    ``generated_label`` (by default "generated f(Sigma_0)" in mathtext);
    ``training``: that of ``Sigma_0`` (open markers, non-zero values only); ``floor``: a
    dashed level, labelled ``floor_label`` when given.
    """
    data = np.asarray(getattr(data, "spectrum", data))
    generated = np.asarray(getattr(generated, "spectrum", generated))
    nu = np.arange(1, len(data) + 1)
    ax.loglog(nu, data, color="0.5", label=r"data $\Sigma$")
    if training is not None:
        training = np.asarray(training)
        seen = training > 0
        simulation(
            ax,
            nu[: len(training)][seen],
            training[seen],
            ms=3,
            color=COLORS[1],
            label=r"training $\Sigma_0$",
        )
    ax.loglog(
        nu[generated > 0],
        generated[generated > 0],
        color=COLORS[0],
        label=generated_label,
    )
    if floor is not None:
        ax.axhline(floor, color="0.3", linestyle="--", linewidth=1, label=floor_label)
    ax.set(xlabel=r"rank $\nu$", ylabel="eigenvalue", title=title)
    ax.legend(loc="upper right")


def losses(ax, t, test, train, best, title=None, ylabel="$L_t$"):
    """Per-step losses on log-log axes (chapters 3, 5): test, train and the floor
    ``best``.

    The y axis is labelled ``ylabel``, by default ``L_t`` in mathtext.
    """
    ax.loglog(t, test, color=COLORS[1], label="test")
    ax.loglog(t, train, color=COLORS[0], label="train")
    ax.loglog(t, best, "--", color="0.5", label="best")
    ax.set(xlabel="step $t$", ylabel=ylabel, title=title)
    ax.legend()


def _common_limits(figures) -> None:
    """Give panel ``i`` of every figure the union of the limits its figures chose, for
    figures with the same number of panels and the same scales."""
    if not figures or len({len(f.axes) for f in figures}) != 1:
        return
    for i in range(len(figures[0].axes)):
        axes = [f.axes[i] for f in figures]
        for get, put, scale in (
            ("get_xlim", "set_xlim", "get_xscale"),
            ("get_ylim", "set_ylim", "get_yscale"),
        ):
            if len({getattr(ax, scale)() for ax in axes}) != 1:
                continue
            limits = np.array([getattr(ax, get)() for ax in axes])
            flipped = limits[0, 0] > limits[0, 1]
            low, high = limits.min(), limits.max()
            for ax in axes:
                getattr(ax, put)((high, low) if flipped else (low, high))


class Explorer:
    """A figure for every combination of a few control values, switched in the page by
    sliders and menus: an explorer that responds without a kernel.

    ``draw(**values)`` draws one figure and ends with ``plt.show()``, as an explorer
    cell's function does; here ``plt.show`` is replaced while drawing, so that each
    figure is kept instead of being shown, as two PNGs
    (:func:`~lindiff.layout.figure_png`, two pixels per CSS pixel, sharp on
    high-density screens): ``frames`` for desktops and ``phones``, shown at ``widths``
    (CSS px). ``controls`` maps each argument to ``(label, values)``:
    numbers give a slider, strings a menu. A combination that draws nothing shows what
    it printed. The HTML (text/html) holds the images as data URIs and a small script,
    and works in a static page and in Jupyter alike; ``weight`` is its size in bytes.
    ``fixed_axes``: every figure gets the same limits on each axis, the smallest that
    hold what every figure drew there (when all figures have the same panels), so that
    moving a control shows the change, not a new scale.
    """

    def __init__(
        self, draw, controls: dict, title: str = "explorer", fixed_axes: bool = True
    ):
        import contextlib
        import io
        import itertools

        import matplotlib.pyplot as plt

        self.title, self.controls = title, controls
        names = list(controls)
        self.frames, self.phones, self.messages = [], [], []
        shown = []

        def capture(*args, **kwargs):
            shown.append(plt.gcf())

        real_show = plt.show
        plt.show = capture
        figures = []
        try:
            # every combination's figure stays open until all are drawn on common
            # axes: no warning about many open figures
            with plt.rc_context({"figure.max_open_warning": 0}):
                for combo in itertools.product(*(controls[n][1] for n in names)):
                    shown.clear()
                    out = io.StringIO()
                    with contextlib.redirect_stdout(out):
                        draw(**dict(zip(names, combo)))
                    for fig in shown[:-1]:
                        plt.close(fig)
                    figures.append(shown[-1] if shown else None)
                    self.messages.append(out.getvalue().strip())
        finally:
            plt.show = real_show
        if fixed_axes:
            _common_limits([f for f in figures if f is not None])
        self.widths = (None, None)  # CSS px of the desktop and the phone drawings
        for fig in figures:
            png, meta = figure_png(fig) if fig else (None, {"phone": None})
            self.frames.append(png)
            self.phones.append(meta["phone"])
            if fig:
                self.widths = (meta["width"], meta["phone_width"])
                plt.close(fig)

    def _repr_html_(self) -> str:
        import base64
        import hashlib
        import html
        import json

        uid = "explorer-" + hashlib.sha1(self.title.encode()).hexdigest()[:10]
        frames, phones = (
            [
                "data:image/png;base64," + base64.b64encode(f).decode() if f else ""
                for f in kept
            ]
            for kept in (self.frames, self.phones)
        )
        rows, values = [], []
        for name, (label, options) in self.controls.items():
            shown = [v if isinstance(v, str) else f"{v:g}" for v in options]
            values.append(shown)
            first = html.escape(shown[0])
            if all(isinstance(v, str) for v in options):
                items = "".join(
                    f'<option value="{i}">{html.escape(v)}</option>'
                    for i, v in enumerate(shown)
                )
                field = f'<select data-control="{name}">{items}</select>'
            else:
                field = (
                    f'<input type="range" data-control="{name}" min="0" '
                    f'max="{len(options) - 1}" step="1" value="0">'
                    f"<output>{first}</output>"
                )
            rows.append(f"<label>{html.escape(label)} {field}</label>")
        alt = html.escape(f"{self.title}: the figure for the values chosen above")
        wide, narrow = (f' width="{w}"' if w else "" for w in self.widths)
        script = (
            "(function () {"
            f"const root = document.getElementById('{uid}');"
            f"const frames = {json.dumps(frames)};"
            f"const phones = {json.dumps(phones)};"
            f"const notes = {json.dumps(self.messages)};"
            f"const values = {json.dumps(values)};"
            "const fields = Array.from(root.querySelectorAll('[data-control]'));"
            "const img = root.querySelector('img.lp-desktop');"
            "const phone = root.querySelector('img.lp-phone');"
            "const note = root.querySelector('.lp-note');"
            "function update() {"
            "  let index = 0;"
            "  fields.forEach((f, k) => {"
            "    const i = Number(f.value);"
            "    index = index * values[k].length + i;"
            "    const out = f.parentElement.querySelector('output');"
            "    if (out) out.textContent = values[k][i];"
            "  });"
            "  root.classList.toggle('lp-empty', !frames[index]);"
            "  if (frames[index]) img.src = frames[index];"
            "  if (phones[index]) phone.src = phones[index];"
            "  note.textContent = frames[index] ? '' : notes[index];"
            "}"
            "fields.forEach(f => f.addEventListener('input', update));"
            "fields.forEach(f => f.addEventListener('change', update));"
            "update();"
            "})();"
        )
        return (
            f'<div class="lp-explorer" id="{uid}">'
            f'<div class="lp-controls">{"".join(rows)}</div>'
            f'<img class="lp-frame lp-desktop" alt="{alt}" src="{frames[0]}"{wide}>'
            f'<img class="lp-frame lp-phone" alt="{alt}" src="{phones[0]}"{narrow}>'
            f'<div class="lp-note"></div></div><script>{script}</script>'
        )

    def __repr__(self) -> str:
        return f"Explorer({self.title!r}, {len(self.frames)} figures)"

    @property
    def weight(self) -> int:
        """The size of the explorer's HTML in bytes."""
        return len(self._repr_html_().encode())
