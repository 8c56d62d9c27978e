"""Print the built book to one PDF with the Chromium the browser check drives.

    python scripts/pdf.py [--html _build/html] [--out _build/book.pdf] [--optional]

The pages are taken in the order of the book's navigation (the table of contents in
the sidebar of the first page). Each is opened (served from the built folder on this
machine's loopback address) and typeset (MathJax done, figures loaded); its article,
the typeset equations and the figures with absolute addresses, is appended to one
document that carries the book's style sheets and MathJax's, which Chromium then
prints (A4, backgrounds, a page break before every chapter). For print the equations
are typeset by MathJax's HTML output (``tex-chtml.js``, from the npm package the set-up
installs) instead of the site's SVG output: its web fonts are embedded in the PDF once,
where each SVG glyph would be drawn again as a path at every use (two thirds of the
PDF's bytes).
Chromium stores every image of a PDF as RGB, three bytes a pixel; the book's figures
have at most 256 colours each (``lindiff.layout``), so each is stored again as an
indexed-colour image, the same pixels in a third of the bytes before compression
(:func:`index_images`). The script fails if the document holds fewer equations or
figures than the pages, or a figure that did not load. Nothing is fetched from the
network: the book's own files and the npm package are all it needs.
Chromium is Debian's (``/usr/bin/chromium``, or the ``CHROMIUM`` variable).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# MathJax's HTML output and its fonts, from the npm package (make setup installs it).
MATHJAX = ROOT / "node_modules" / "mathjax" / "es5"

# The headless flags that work here (the browser check uses them too).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Wait until MathJax has typeset the page and every image has loaded (the figures load
# lazily in the book: load them all now, or a hidden one would never finish).
READY = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
  Array.from(document.images).forEach(img => { img.loading = 'eager'; });
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.onload = img.onerror = r; })));
  return true;
}"""

# The article with absolute image addresses and the page's own links kept readable.
ARTICLE = """() => {
  const art = document.querySelector('article.bd-article') ||
    document.querySelector('main');
  const copy = art.cloneNode(true);
  copy.querySelectorAll('img').forEach((img, i) => {
    img.setAttribute('src', art.querySelectorAll('img')[i].src);
    img.removeAttribute('loading');
  });
  // no buttons, and no scripts: an explorer's would point its image at its page's
  // relative addresses (paper shows the first figure, its controls hidden)
  copy.querySelectorAll('.headerlink, .toggle-details, button, script')
    .forEach(e => e.remove());
  return copy.innerHTML;
}"""

# Typeset equations and figures in the article: the printed copy must hold as many.
COUNT_MATH = """() => (document.querySelector('article.bd-article') || document.body)
  .querySelectorAll('mjx-container').length"""
COUNT_IMAGES = """() => (document.querySelector('article.bd-article') || document.body)
  .querySelectorAll('img').length"""

STYLES = """() => Array.from(document.querySelectorAll('link[rel=stylesheet], style'))
  .map(e => e.tagName === 'LINK' ? `<link rel="stylesheet" href="${e.href}">`
    : e.outerHTML).join('\\n')"""

PRINT_CSS = """
<style>
  body { margin: 0; background: white; }
  .book-page { break-before: page; padding: 0 0.5cm; }
  .book-page:first-child { break-before: auto; }
  .book-page pre, .book-page div.highlight pre { white-space: pre-wrap; }
  .book-page figure, .book-page img { break-inside: avoid; max-width: 100%; }
  mjx-container[display="true"] { overflow: visible !important; }
  details.hide > summary { display: none; }
</style>
"""


def find_chromium() -> str | None:
    """Debian's Chromium (or the ``CHROMIUM`` variable), or None."""
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    return path if Path(path).exists() else shutil.which("chromium")


def _order(page, site: str) -> list[str]:
    """The addresses of the book's pages in the order of its navigation, the root
    first."""
    hrefs = page.eval_on_selector_all(
        "nav.bd-links a.reference.internal", "els => els.map(e => e.href)"
    )
    pages = [f"{site}/intro.html"]
    for href in hrefs:
        href = href.split("#")[0]
        if href.endswith(".html") and href not in pages:
            pages.append(href)
    return pages


@contextlib.contextmanager
def served(folder: Path):
    """``folder`` served over HTTP on the loopback address while the block runs (so
    that the browser's requests can be routed); yields the site's address."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _typeset_for_print(route) -> None:
    """The site's MathJax (SVG output) answered by its HTML output, and that output's
    files (its fonts) from the npm package."""
    path = route.request.url.split("?")[0].split("/_static/mathjax/", 1)[1]
    if path == "tex-svg.js":
        path = "tex-chtml.js"
    route.fulfill(path=MATHJAX / path)


def index_images(path: Path) -> tuple[int, int]:
    """Store each RGB image of the PDF at ``path`` that has at most 256 colours as an
    indexed-colour image over the same colour space (its palette, then one byte a
    pixel, deflated); returns the bytes of the images before and after."""
    import zlib

    import numpy as np
    import pikepdf

    def indexed(obj) -> bytes | None:
        """The image's pixels as palette indices, deflated; None if it is no 8-bit RGB
        image or has more than 256 colours."""
        data = obj.read_bytes()
        rgb = obj.get("/BitsPerComponent") == 8
        rgb = rgb and len(data) == 3 * int(obj.Width) * int(obj.Height)
        if not rgb or "/Decode" in obj or "/ImageMask" in obj:
            return None
        colour = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.uint32)
        palette, index = np.unique(
            colour[:, 0] << 16 | colour[:, 1] << 8 | colour[:, 2], return_inverse=True
        )
        if len(palette) > 256:
            return None
        table = np.stack([palette >> 16, palette >> 8, palette], 1) & 255
        obj.ColorSpace = pikepdf.Array(
            [
                pikepdf.Name.Indexed,
                obj.ColorSpace,
                len(palette) - 1,
                pikepdf.String(table.astype(np.uint8).tobytes()),
            ]
        )
        return zlib.compress(index.astype(np.uint8).tobytes(), 9)

    before = after = 0
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") != "/Image":
                continue
            size = len(obj.read_raw_bytes())
            packed = indexed(obj)
            if packed is not None:
                obj.write(packed, filter=pikepdf.Name.FlateDecode)
            before += size
            after += size if packed is None else len(packed)
        pdf.save(path)
    return before, after


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"))
    parser.add_argument("--out", type=Path, default=Path("_build/book.pdf"))
    parser.add_argument(
        "--optional",
        action="store_true",
        help="without Chromium, say so and print nothing (instead of failing)",
    )
    args = parser.parse_args(argv)
    if args.optional and find_chromium() is None:
        print(
            "pdf: no Chromium (Debian's 'chromium'): the book is built without its PDF"
        )
        return None
    html = args.html.resolve()
    if not (html / "intro.html").exists():
        sys.exit(f"pdf: no built book in {html} (run 'make book' first)")
    if not (MATHJAX / "tex-chtml.js").exists():
        sys.exit(f"pdf: no MathJax in {MATHJAX} (run 'make setup' first)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, served(html) as site:
        exe = find_chromium()
        if exe is None:
            sys.exit("pdf: no Chromium (install Debian's 'chromium', or set CHROMIUM)")
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.route("**/_static/mathjax/**", _typeset_for_print)
        page.goto(f"{site}/intro.html")
        page.evaluate(READY)
        head = page.evaluate(STYLES)
        parts, counts = [], [0, 0]
        for address in _order(page, site):
            page.goto(address)
            page.evaluate(READY)
            counts[0] += page.evaluate(COUNT_MATH)
            counts[1] += page.evaluate(COUNT_IMAGES)
            for style in page.evaluate(
                "() => Array.from(document.querySelectorAll('style'))"
                ".filter(s => s.id && s.id.startsWith('MJX')).map(s => s.outerHTML)"
            ):
                if style not in head:  # MathJax's own styles, once
                    head += style
            parts.append(f'<div class="book-page">{page.evaluate(ARTICLE)}</div>')
        document = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}{PRINT_CSS}"
            f"</head><body class='bd-page-width'>{''.join(parts)}</body></html>"
        )
        combined = html / "_book_print.html"
        combined.write_text(document, encoding="utf-8")
        page.goto(f"{site}/{combined.name}")
        page.evaluate(READY)
        got = [page.evaluate(COUNT_MATH), page.evaluate(COUNT_IMAGES)]
        blank = page.evaluate(
            "() => Array.from(document.images).filter(i => !i.naturalWidth).length"
        )
        if got != counts or blank:
            sys.exit(
                f"pdf: the printed document has {got[0]} equations and {got[1]} "
                f"figures ({blank} not loaded), the pages {counts[0]} and {counts[1]}"
            )
        page.emulate_media(media="print")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(
            path=str(args.out),
            format="A4",
            print_background=True,
            margin={
                "top": "1.5cm",
                "bottom": "1.5cm",
                "left": "1.2cm",
                "right": "1.2cm",
            },
        )
        browser.close()
        combined.unlink()
    before, after = index_images(args.out)
    print(
        f"{len(parts)} pages of the book, {counts[0]} equations and {counts[1]} "
        f"figures, printed to {args.out} ({args.out.stat().st_size / 1e6:.1f} MB; "
        f"its images {before / 1e6:.1f} MB as Chromium stored them, "
        f"{after / 1e6:.1f} MB indexed)"
    )
    return args.out


if __name__ == "__main__":
    main()
