"""Figure style and widget helpers shared by the chapters of the book.

Kept apart from :mod:`lindiff_core`, whose functions never plot. Every chapter
calls :func:`use_style` once; colours come from :data:`COLORS` (Okabe & Ito's
colour-blind-safe palette). Theory is drawn as lines, simulation as markers.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["COLORS", "use_style", "theory", "simulation"]

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

_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
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
    """Apply the book's matplotlib style (idempotent)."""
    mpl.rcParams.update(_STYLE)


def theory(ax, x, y, **kw):
    """Draw a theoretical curve: a solid line."""
    kw.setdefault("linestyle", "-")
    return ax.plot(x, y, **kw)


def simulation(ax, x, y, yerr=None, **kw):
    """Draw simulated values: markers (with error bars when ``yerr`` is given), no line."""
    kw.setdefault("marker", "o")
    kw.setdefault("linestyle", "none")
    kw.setdefault("markerfacecolor", "none")
    if yerr is None:
        return ax.plot(x, y, **kw)
    return ax.errorbar(x, y, yerr=yerr, capsize=2, **kw)


def close_all() -> None:
    """Close every open figure (widgets redraw into fresh ones)."""
    plt.close("all")
