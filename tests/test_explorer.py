"""The static explorer of the chapters (lindiff.plot.Explorer)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from lindiff import layout  # noqa: E402
from lindiff import plot as lp  # noqa: E402


def draw(a=1.0, kind="line"):
    if a < 0:
        print("only non-negative slopes are drawn")
        return
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, a], "-" if kind == "line" else "o")
    plt.show()


def test_one_figure_per_combination_and_notes_for_the_rest():
    ex = lp.Explorer(
        draw,
        {"a": ("slope", [-1.0, 0.5, 2.0]), "kind": ("kind", ["line", "dots"])},
        "t",
    )
    assert len(ex.frames) == 6 and repr(ex) == "Explorer('t', 6 figures)"
    assert ex.frames[0] is None and ex.frames[1] is None  # a = -1, both kinds
    assert ex.messages[0] == "only non-negative slopes are drawn"
    assert all(f.startswith(b"\x89PNG") for f in ex.frames[2:])
    assert len(set(ex.frames[2:])) == 4  # every combination draws its own figure
    html = ex._repr_html_()
    assert html.count('data-control="a"') == 1 and "<select" in html
    # each figure twice, drawn for the desktop column and for a phone's
    assert all(layout.figure_stamp(f)["layout"] == "phone" for f in ex.phones[2:])
    assert html.count("data:image/png;base64,") == 8 and ex.weight == len(html.encode())
    assert plt.get_fignums() == []  # every figure was closed, none shown


def test_plt_show_is_restored_after_a_failure():
    show = plt.show

    def broken(a=1.0):
        raise ValueError("a: expected something else")

    try:
        lp.Explorer(broken, {"a": ("a", [1.0])})
    except ValueError:
        pass
    assert plt.show is show


def test_every_frame_shares_the_axes_limits_unless_asked_not_to():
    """Moving a control must show the change, not a new scale: with ``fixed_axes`` the
    slopes 0.5 and 2 are drawn on the same y range (that of the steeper line), without
    it each on its own."""
    drawn = []

    def slope(a=1.0):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, 1], [0, a])
        drawn.append(ax)
        plt.show()

    for fixed in (True, False):
        drawn.clear()
        lp.Explorer(slope, {"a": ("slope", [0.5, 2.0])}, "t", fixed_axes=fixed)
        limits = [ax.get_ylim() for ax in drawn]
        assert (limits[0] == limits[1]) is fixed, limits
        assert limits[1][1] > 2.0  # the steeper line fits in every case


def test_many_frames_give_no_warning_and_are_drawn_for_high_density_screens():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "More than 20 figures have been opened"
        ex = lp.Explorer(draw, {"a": ("slope", [0.1 * i for i in range(22)])}, "t")
    assert len(ex.frames) == 22 and plt.get_fignums() == []
    width = int.from_bytes(ex.frames[0][16:20], "big")
    assert width == layout.DENSITY * ex.widths[0]  # two PNG pixels per CSS pixel
    assert f'width="{ex.widths[0]}"' in ex._repr_html_()
