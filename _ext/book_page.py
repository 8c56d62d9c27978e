"""What every built page carries and how it loads: the book's version and build date in
the footer, the theme's icon script deferred (it blocked the first paint, 1.5 MB), and
the figures loaded lazily, so that a phone does not fetch the desktop drawing of each
figure (hidden by the style sheet) nor a desktop the phone's."""

import datetime
import re
import tomllib
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_ICONS = re.compile(
    r'<script src="([^"]*_static/scripts/fontawesome\.js[^"]*)"></script>'
)
_FIGURE = re.compile(r'<img (?=[^>]*class="[^"]*\blp-(?:desktop|phone)\b)')


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


def rewrite(html: str) -> str:
    """A page's HTML with the icon script deferred and its figures loaded lazily."""
    html = _ICONS.sub(r'<script defer src="\1"></script>', html)
    return _FIGURE.sub('<img loading="lazy" decoding="async" ', html)


def _rewrite_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _footer)
    app.connect("build-finished", _rewrite_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
