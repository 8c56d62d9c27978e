"""Figure style and widget helpers shared by the chapters of the book.

Kept apart from :mod:`lindiff_core`, whose functions never plot. Every chapter
calls :func:`use_style` once; colours come from :data:`COLORS` (Okabe & Ito's
colour-blind-safe palette). Theory is drawn as lines, simulation as markers
(:func:`simulation`). One function per kind of figure, drawing into a given ``ax``:
the static figure of a chapter and its interactive explorer call the same one.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

__all__ = ["COLORS", "METRICS", "use_style", "simulation", "spectrum", "losses"]

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
    ``rho_N``
    (line; zero values, which a log axis cannot show, are left out); ``training``: that
    of ``Sigma_0`` (open markers, non-zero values only); ``floor``: a dashed level,
    labelled ``floor_label`` when given.
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
    ax.legend(loc="lower left")


def losses(ax, t, test, train, best, title=None, ylabel="$L_t$"):
    """Per-step losses on log-log axes (chapters 3, 5): test, train and the floor
    ``best``.
    """
    ax.loglog(t, test, color=COLORS[1], label="test")
    ax.loglog(t, train, color=COLORS[0], label="train")
    ax.loglog(t, best, "--", color="0.5", label="best")
    ax.set(xlabel="step $t$", ylabel=ylabel, title=title)
    ax.legend()
