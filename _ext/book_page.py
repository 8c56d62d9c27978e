"""What every built page carries and how it loads: the book's version and build date in
the footer; the whole book's PDF in the download menu of its header; no icon script
(the theme's Font Awesome script, 1.5 MB, 0.54 MB compressed, redraws as SVG the icons
its style sheet already draws from the web font); the figures loaded lazily, so that a
phone does not fetch the desktop drawing of each figure (hidden by the style sheet) nor
a desktop the phone's; and the frames of the explorers stored as image files next to
the others instead of inside the page (a page then carries only their addresses, and a
frame is fetched when a control first shows it; the notebooks keep them inline, so that
an explorer works in Jupyter too); every figure and frame served as a lossless WebP (the
same pixels as the notebook's PNG in about a quarter fewer bytes, its figure report
kept: lindiff.layout.figure_webp). What no reader fetches is left out of the site: the
themes' source maps, the TrueType copies of the icon font (next to their WOFF2 ones),
the message catalogues of languages other than the book's (used
while building), and the outputs of the notebooks offered for download (their figures
are on the page; the downloaded notebook makes them again when run)."""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import tomllib
from pathlib import Path

from lindiff.layout import figure_webp

_ROOT = Path(__file__).resolve().parents[1]
_ICONS = re.compile(
    r'<script src="([^"]*_static/scripts/fontawesome\.js[^"]*)"></script>'
)
_FIGURE = re.compile(r'<img (?=[^>]*class="[^"]*\blp-(?:desktop|phone)\b)')
_INLINE = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
# An image the build wrote to _images, as a page refers to it (its WebP replaces it).
_IMAGE_FILE = re.compile(r'(src="(?:\.\./)*_images/[^"/]+)\.png"')
# The page's download menu, and the item added to it: the whole book as one PDF
# (scripts/pdf.py, printed into the site by make book).
_MENU = re.compile(
    r'<div class="dropdown dropdown-download-buttons">.*?<ul class="dropdown-menu">',
    re.S,
)
_PDF_ITEM = (
    '<li><a href="{root}/book.pdf" class="btn btn-sm dropdown-item" '
    'title="The whole book as one PDF" data-bs-placement="left" '
    'data-bs-toggle="tooltip"><span class="btn__icon-container">'
    '<i class="fas fa-book"></i></span>'
    '<span class="btn__text-container">book.pdf</span></a></li>'
)
# A printed output; one whose lines stand in columns (three or more lines with a gap of
# two spaces or more between words) keeps its lines on a phone and scrolls sideways in
# its own box, so that its columns stay aligned (the style sheet's lp-table).
_OUTPUT = re.compile(
    r'(<div class="output stream[^"]*"><div class="highlight"><pre)>(.*?)</pre>', re.S
)


def _mark_table(match) -> str:
    text = re.sub(r"<[^>]+>", "", match.group(2))
    columns = [line for line in text.splitlines() if re.search(r"\S {2,}\S", line)]
    if len(columns) < 3:
        return match.group(0)
    return f'{match.group(1)} class="lp-table">{match.group(2)}</pre>'


_SOURCE_MAP = re.compile(r"\n?/[/*]# sourceMappingURL=\S+?(?: \*/)?\s*$")


def version() -> str:
    """The book's version, from ``pyproject.toml``."""
    with open(_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def _footer(app, config):
    options = dict(config.html_theme_options or {})
    today = datetime.date.today().isoformat()
    options["extra_footer"] = options.get("extra_footer", "") + (
        f"<p>Version {version()}, built on {today}.</p>"
    )
    config.html_theme_options = options


def rewrite(html: str, images: Path | None = None, page: Path | None = None) -> str:
    """A page's HTML without the icon script, with its figures loaded lazily, its
    printed tables marked (``lp-table``) and the whole book's PDF in its download
    menu; with ``images`` (a folder) and ``page`` (the page's path), every inline PNG
    written to ``images`` (named by its content's hash) and referred to by its
    relative address."""
    html = _ICONS.sub("", html)
    html = _FIGURE.sub('<img loading="lazy" decoding="async" ', html)
    html = _OUTPUT.sub(_mark_table, html)
    if images is None:
        return html
    root = Path(os.path.relpath(images.parent, page.parent)).as_posix()
    html = _MENU.sub(lambda m: m.group(0) + _PDF_ITEM.format(root=root), html, count=1)
    base = Path(os.path.relpath(images, page.parent)).as_posix()

    def store(match):
        png = base64.b64decode(match.group(1))
        name = f"frame-{hashlib.sha1(png).hexdigest()[:16]}.webp"
        target = images / name
        if not target.exists():
            target.write_bytes(figure_webp(png))
        return f"{base}/{name}"

    html = _IMAGE_FILE.sub(lambda m: m.group(1) + '.webp"', html)
    return _INLINE.sub(store, html)


def _to_webp(images: Path) -> None:
    """Every PNG the build wrote to ``images`` replaced by its WebP."""
    for png in images.glob("*.png"):
        png.with_suffix(".webp").write_bytes(figure_webp(png.read_bytes()))
        png.unlink()


def strip_outputs(text: str) -> str:
    """A notebook's JSON without its outputs and execution counts."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _prune(out: Path) -> None:
    shutil.rmtree(out / "_static" / "locales", ignore_errors=True)
    (out / "_static" / "scripts" / "fontawesome.js").unlink(missing_ok=True)
    for font in (out / "_static" / "vendor").rglob("*.ttf"):
        font.unlink()  # the icon font's fallback: every browser reads its WOFF2 copy
    for path in (out / "_static").rglob("*.map"):
        path.unlink()
    for path in (out / "_static").rglob("*"):
        if path.suffix in (".js", ".css"):
            text = path.read_text(encoding="utf-8")
            new = _SOURCE_MAP.sub("", text)
            if new != text:
                path.write_text(new, encoding="utf-8")
    for path in (out / "_sources").rglob("*.ipynb"):
        path.write_text(strip_outputs(path.read_text(encoding="utf-8")), "utf-8")


def _rewrite_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    _prune(Path(app.outdir))
    images = Path(app.outdir) / "_images"
    images.mkdir(exist_ok=True)
    _to_webp(images)
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = rewrite(text, images, page)
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _footer)
    app.connect("build-finished", _rewrite_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
