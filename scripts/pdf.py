"""Print the built book to one PDF with the Chromium the browser check drives.

    python scripts/pdf.py [--html _build/html] [--out _build/book.pdf] [--optional]

The pages are taken in the order of the book's navigation (the table of contents in
the sidebar of the first page). Each is opened from disk and typeset (MathJax done,
figures loaded); its article, the typeset equations and the figures with absolute
addresses, is appended to one document that carries the book's style sheets and
MathJax's, which Chromium then prints (A4, backgrounds, a page break before every
chapter). The script fails if the document holds fewer equations or figures than the
pages, or a figure that did not load. Nothing is fetched from the network: the book's
own files are all it needs.
Chromium is Debian's (``/usr/bin/chromium``, or the ``CHROMIUM`` variable).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

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


def _order(page, html: Path) -> list[Path]:
    """The book's pages in the order of its navigation, the root first."""
    hrefs = page.eval_on_selector_all(
        "nav.bd-links a.reference.internal", "els => els.map(e => e.href)"
    )
    pages = [html / "intro.html"]
    for href in hrefs:
        path = Path(href.split("#")[0].removeprefix("file://"))
        if path.suffix == ".html" and path not in pages:
            pages.append(path)
    return pages


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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        exe = find_chromium()
        if exe is None:
            sys.exit("pdf: no Chromium (install Debian's 'chromium', or set CHROMIUM)")
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.goto((html / "intro.html").as_uri())
        page.evaluate(READY)
        head = page.evaluate(STYLES)
        parts, counts = [], [0, 0]
        for path in _order(page, html):
            page.goto(path.as_uri())
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
        page.goto(combined.as_uri())
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
    print(
        f"{len(parts)} pages of the book, {counts[0]} equations and {counts[1]} "
        f"figures, printed to {args.out}"
    )
    return args.out


if __name__ == "__main__":
    main()
