"""The book's figures as shown (lindiff.layout.figure_png, figure_report): the report
finds what a reader could not read, and the phone layout stacks panels."""

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lindiff import layout  # noqa: E402
from lindiff import plot as lp  # noqa: E402

lp.use_style()


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _lines(ax):
    x = np.linspace(0, 1, 50)
    ax.plot(x, x, label="rising")
    ax.plot(x, 1 - x, label="falling")


def test_a_clean_figure_has_no_problems():
    fig, ax = plt.subplots()
    _lines(ax)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 1.25), ncols=2)
    report = layout.figure_report(fig)
    assert report["problems"] == [] and report["min_font_pt"] == 9


def test_a_legend_on_the_data_is_found():
    fig, ax = plt.subplots()
    _lines(ax)
    ax.legend(loc="center")  # where the two lines cross
    (problem,) = layout.figure_report(fig)["problems"]
    assert "legend covers" in problem


def test_colliding_tick_labels_are_found():
    fig, ax = plt.subplots(figsize=(2, 2))
    _lines(ax)
    ax.set_xticks(np.linspace(0, 1, 11), [f"{v:.3f}" for v in np.linspace(0, 1, 11)])
    problems = layout.figure_report(fig)["problems"]
    assert any("x tick labels overlap" in p for p in problems)


def test_the_smallest_font_is_reported():
    fig, ax = plt.subplots()
    _lines(ax)
    ax.set_title("small", fontsize=6)
    assert layout.figure_report(fig)["min_font_pt"] == 6


def test_the_phone_layout_stacks_the_panels_and_restores_the_figure():
    fig, axes = plt.subplots(1, 3, figsize=(lp.COLUMN, 2.8), sharey=True)
    for ax in axes:
        _lines(ax)
    png, meta = layout.figure_png(fig)
    phone = layout.figure_stamp(meta["phone"])
    assert (
        layout.figure_stamp(png)["layout"] == "desktop" and phone["layout"] == "phone"
    )
    assert meta["width"] == round(lp.COLUMN * 96)  # CSS px, the PNG holds twice as many
    assert int.from_bytes(png[16:20], "big") == layout.DENSITY * meta["width"]
    # three panels, one above the other: taller than wide
    h = int.from_bytes(meta["phone"][20:24], "big")
    assert h > 2 * int.from_bytes(meta["phone"][16:20], "big")
    # the figure itself is as it was: one row of three, inner y tick labels hidden
    assert tuple(fig.get_size_inches()) == (lp.COLUMN, 2.8)
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in axes] == [(1, 3)] * 3
    assert not axes[1].yaxis.get_tick_params()["labelleft"]


def test_a_plain_png_has_no_stamp():
    import io

    fig, ax = plt.subplots()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert layout.figure_stamp(buffer.getvalue()) is None


def test_a_figure_as_webp_keeps_its_pixels_and_its_stamp():
    """figure_webp, what the built book serves: lossless, smaller, the report kept;
    an image without a stamp has none as WebP either."""
    import io

    from PIL import Image

    fig, axes = plt.subplots(1, 2, figsize=(lp.COLUMN, 2.4))
    for ax in axes:
        _lines(ax)
    png, meta = layout.figure_png(fig)
    webp = layout.figure_webp(png)
    assert webp[:4] == b"RIFF" and len(webp) < len(png)
    assert layout.figure_stamp(webp) == layout.figure_stamp(png) is not None
    pixels = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in (png, webp)]
    assert np.array_equal(*pixels)
    buffer = io.BytesIO()
    Image.fromarray(pixels[0]).save(buffer, "webp", lossless=True)
    assert layout.figure_stamp(buffer.getvalue()) is None


def test_tidy_moves_a_legend_off_the_data_and_thins_crowded_ticks():
    fig, ax = plt.subplots(figsize=(2, 2))
    _lines(ax)
    ax.legend(loc="center")
    ax.set_xlim(0, 1e5)
    ax.plot([0, 1e5], [0.5, 0.5])
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=12))
    before = layout.figure_report(fig)["problems"]
    assert any("legend covers" in p for p in before)
    assert any("x tick labels overlap" in p for p in before)
    layout.tidy(fig)
    assert layout.figure_report(fig)["problems"] == []


def test_a_legend_with_no_free_place_goes_under_the_axes_with_its_title():
    fig, ax = plt.subplots(figsize=(lp.PHONE, 2.5))
    x = np.linspace(0, 1, 100)
    for q in (0.1, 0.3, 1, 3, 10):
        ax.plot(x, x**q, label=f"$x^{{{q}}}$, a long label")
    ax.plot(x, 1 - x**0.2, label="falling")
    ax.set_xlabel("x")
    ax.legend(title="powers of x", fontsize=9)
    assert any("legend covers" in p for p in layout.figure_report(fig)["problems"])
    layout.tidy(fig)
    legend = ax.get_legend()
    assert layout.figure_report(fig)["problems"] == []
    assert legend.get_title().get_text() == "powers of x"
    assert legend.get_window_extent().y1 < ax.xaxis.label.get_window_extent().y0
    assert legend.get_window_extent().width <= fig.bbox.width


def test_a_legend_put_under_the_axes_is_laid_out_again_for_the_phone():
    fig, ax = plt.subplots(figsize=(lp.COLUMN, 2.2))
    r = np.logspace(-1, 1, 50)
    for k in range(3):
        for sign in (-1, 1):
            ax.loglog(r, r ** (sign * (k + 1)), label=f"$k = {k}$, a long label {sign}")
    ax.legend(title="a title as long as the figure is wide on a phone")
    png, meta = layout.figure_png(fig)
    assert layout.figure_stamp(png)["problems"] == []
    assert layout.figure_stamp(meta["phone"])["problems"] == []


def test_panels_are_lettered_in_reading_order_and_only_once():
    fig, axes = plt.subplots(2, 2, figsize=(lp.COLUMN, 4))
    for ax in axes.flat:
        _lines(ax)
    axes[0, 1].set_title("spectrum")
    axes[1, 1].imshow(np.eye(3))  # an image is not a panel a caption letters
    layout.figure_png(fig)
    layout.figure_png(fig)  # drawn again: no second letter

    def letters(ax):
        return [t.get_text() for t in ax.texts]

    assert letters(axes[0, 0]) == ["(a)"] and letters(axes[1, 0]) == ["(c)"]
    assert letters(axes[0, 1]) == ["(b)"] and axes[0, 1].get_title() == "spectrum"
    assert letters(axes[1, 1]) == []
    one, ax = plt.subplots()
    _lines(ax)
    layout.figure_png(one)
    assert letters(ax) == []  # a single panel needs no letter


def test_a_tall_grid_keeps_two_columns_on_a_phone_and_its_labels():
    """Twelve panels in three rows of four would stack into twelve rows (about 3.4
    screens); on a phone they keep two columns, every panel that starts a row has the
    y label of its row, and the drawing stays within PHONE_HEIGHT."""
    fig, axes = plt.subplots(3, 4, figsize=(lp.COLUMN, 6.6), sharey="row")
    for row in axes:
        for ax in row:
            _lines(ax)
        row[0].set_ylabel("loss")
    png, meta = layout.figure_png(fig)
    phone = meta["phone"]
    height = int.from_bytes(phone[20:24], "big") / layout.DENSITY / 96
    assert height <= layout.PHONE_HEIGHT
    stamp = layout.figure_stamp(phone)
    assert stamp["problems"] == []
    assert [ax.get_ylabel() for ax in axes[:, 1]] == ["", "", ""]  # restored


def test_a_grid_of_plots_keeps_its_reading_order_on_a_phone():
    """Two rows of three plots, two columns on a phone: (a)(b) / (c) / (d)(e) / (f),
    row by row as the letters run, not (a)(b) / (d)(e) / (c) / (f)."""
    fig, axes = plt.subplots(2, 3, figsize=(lp.COLUMN, 5.4))
    for ax in axes.flat:
        _lines(ax)
    with layout.phone_layout(fig):
        fig.draw_without_rendering()
        boxes = [ax.get_position() for ax in axes.flat]
    reading = sorted(range(6), key=lambda i: (-round(boxes[i].y1, 3), boxes[i].x0))
    assert reading == [0, 1, 2, 3, 4, 5]
    assert boxes[2].y1 < boxes[0].y0 and boxes[3].y1 < boxes[2].y0


def test_a_tall_grid_of_images_takes_narrower_columns_on_a_phone():
    """Three rows of seven images stack into nine rows of three on a phone (1.5
    screens); four columns of images 89% as wide as drawn bring them within it."""
    fig, axes = plt.subplots(3, 7, figsize=(lp.COLUMN, 3.9))
    for ax in axes.flat:
        ax.imshow(np.eye(8), cmap="gray")
        ax.set(xticks=[], yticks=[])
    _, meta = layout.figure_png(fig)
    height = int.from_bytes(meta["phone"][20:24], "big") / layout.DENSITY / 96
    assert height <= layout.PHONE_HEIGHT
    with layout.phone_layout(fig) as drawn:
        assert drawn.get_axes()[0].get_subplotspec().get_gridspec().ncols == 4


def test_a_title_that_reaches_its_panels_letter_breaks_onto_two_lines():
    fig, axes = plt.subplots(1, 3, figsize=(lp.COLUMN, 2.5))
    for ax in axes:
        _lines(ax)
    axes[0].set_title("a title wider than its own panel")
    axes[1].legend(loc="center")  # on the data: tidy moves it first
    layout.letter_panels(fig)
    assert any("touches its title" in p for p in layout.figure_report(fig)["problems"])
    png, _ = layout.figure_png(fig)
    assert layout.figure_stamp(png)["problems"] == []
    assert "\n" in axes[0].get_title() and "\n" not in axes[1].get_title()


def test_crowded_tick_labels_placed_by_hand_are_labelled_every_second_tick():
    fig, ax = plt.subplots(figsize=(1.2, 1.5))
    ax.loglog([0.25, 4], [1, 2])
    ax.set_xticks([0.25, 0.5, 1, 2, 4], ["1/4", "1/2", "1", "2", "4"])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    assert any("x tick labels" in p for p in layout.figure_report(fig)["problems"])
    layout.tidy(fig)
    assert layout.figure_report(fig)["problems"] == []
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert shown[0] == "1/4" and len(ax.get_xticks()) == 5 and len(shown) < 5


def test_a_title_cut_off_at_the_figures_edge_breaks_onto_two_lines():
    fig, ax = plt.subplots(figsize=(2.5, 2))
    _lines(ax)
    ax.set_ylabel("a y label")
    ax.set_title("a title as wide as the whole figure is")
    assert any("cut off" in p for p in layout.figure_report(fig)["problems"])
    layout.tidy(fig)
    assert layout.figure_report(fig)["problems"] == []
    assert "\n" in ax.get_title()


def test_cut_row_by_row_a_lower_row_takes_its_columns_titles_on_a_phone():
    fig, axes = plt.subplots(2, 3, figsize=(lp.COLUMN, 5.4))
    for ax in axes.flat:
        _lines(ax)
    for ax, title in zip(axes[0], ["test", "train", "KL"]):
        ax.set_title(title)
    with layout.phone_layout(fig):
        assert [ax.get_title() for ax in axes[1]] == ["test", "train", "KL"]
    assert [ax.get_title() for ax in axes[1]] == ["", "", ""]  # restored


def test_a_figure_legend_too_wide_for_a_phone_keeps_its_entries_as_drawn():
    fig, axes = plt.subplots(1, 3, figsize=(lp.COLUMN, 2.5))
    for ax in axes:
        for k in range(3):
            ax.errorbar([0, 1], [k, k + 1], [0.1, 0.1], marker="o", label=f"run {k}")
            ax.plot([0, 1], [k + 0.5, k], label=f"theory {k}")
    legend = fig.legend(
        *axes[0].get_legend_handles_labels(), ncols=6, loc="outside lower center"
    )
    _, meta = layout.figure_png(fig)
    assert layout.figure_stamp(meta["phone"])["problems"] == []
    (again,) = fig.legends
    assert again is not legend and again._ncols < 6
    # the error bars' entries drawn as before, with their markers and bars

    def drawn(leg):
        return sorted(
            (type(a).__name__, str(getattr(a, "get_marker", lambda: "")()))
            for a in leg.findobj(lambda a: a is not leg)
            if a.get_visible() and type(a).__name__ in ("Line2D", "LineCollection")
        )

    assert drawn(again) == drawn(legend)


def test_a_letter_too_close_to_a_title_of_one_word_goes_above_it():
    fig, axes = plt.subplots(1, 3, figsize=(lp.COLUMN, 2.5))
    for ax in axes:
        _lines(ax)
    axes[1].set_title("averyveryverylongsingleword")
    png, _ = layout.figure_png(fig)
    assert layout.figure_stamp(png)["problems"] == []
    letter = [t for t in axes[1].texts if t.get_text() == "(b)"][0]
    assert letter.xyann[1] > 6  # raised above its title
