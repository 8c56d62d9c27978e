"""The built book in a real browser: headless Chromium driven by Playwright.

Every page of ``_build/html`` is opened twice, from the file system (as a reader
opens it) and from a local HTTP server, with every request that leaves the
machine blocked. A page passes when no request fails, nothing is requested from
the network, the console shows no error, MathJax has typeset every equation
(no raw TeX left, no MathJax error), every image shown has loaded and every widget
has rendered; at 390 px the page must be no wider than the screen, and at 1280 and
390 px no formula, code block or table may be cut by a box that cannot scroll. At both
widths every figure shown must display its smallest text at 8 pt or more (the font it
was drawn with, read from the PNG, times the scale it is shown at), a screen may
fetch only the drawings meant for its width, and a phone's first load of a page fetches
at most 1.2 MB (gzip), of which the page's HTML at most 300 kB; at 390 px no figure
is taller than one and a half screens (of 844 px), and a printed table keeps its
lines. Every control of every explorer must change its figure (and every frame load),
and the whole book must be in the site as one PDF (``scripts/pdf.py``, with every
equation and figure), linked from every page. The layout at 390 px and the
screenshots are taken from the page as opened from disk (the served copy lays out the
same): screenshots at 1280 px and 390 px land in ``_build/screenshots`` (and its
``390/``) for review.

Run after ``make book``. Without Chromium the test skips with a message, except
under CI (``CI`` set), where it must run.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import MIN_FONT_PT, MIN_GLYPH_PT, shown_pt

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
# The tallest figure a phone shows, in screens (lindiff.layout.PHONE_HEIGHT draws them).
PHONE_SCREENS = 1.5
# The Chromium flags and lookup of scripts/pdf.py (make pdf), loaded from its file.
_spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "scripts" / "pdf.py")
book_pdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_pdf)
CHROMIUM_FLAGS = book_pdf.FLAGS
_chromium = book_pdf.find_chromium


def _pages() -> list[Path]:
    if not HTML.is_dir():
        return []
    return sorted(
        p
        for p in HTML.rglob("*.html")
        if "_static" not in p.parts and p.name != "index.html"
    )


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(
                "Chromium is required under CI: install Debian's 'chromium' package"
            )
        pytest.skip(
            "no Chromium found "
            "(install Debian's 'chromium' package, or set CHROMIUM=/path)"
        )
    if not (HTML / "intro.html").exists():
        pytest.fail(f"no built book in {HTML}: run 'make book' first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server():
    with book_pdf.served(HTML) as site:
        yield site


def _is_local(url: str) -> bool:
    u = urlparse(url)
    return u.scheme in ("file", "data", "blob", "about") or u.hostname in (
        "127.0.0.1",
        "localhost",
    )


# The figures shown at the page's width: what is visible of every image in the article
# (the desktop or the phone drawing of a figure, an explorer's frame), as displayed.
_FIGURES = """async () => {
  const shown = Array.from(document.querySelectorAll('main img'))
    .filter(i => i.getClientRects().length > 0 &&
                 getComputedStyle(i).display !== 'none');
  // the figures load lazily: load those shown at this width before measuring them
  shown.forEach(i => { i.loading = 'eager'; });
  await Promise.all(shown.map(i => i.decode().catch(() => null)));
  return shown.map(i => ({src: i.currentSrc || i.src, natural: i.naturalWidth,
                          shown: i.clientWidth, height: i.clientHeight,
                          figure: !!i.closest('figure, .lp-explorer, .cell_output')}));
}"""


def _image_bytes(src: str) -> bytes:
    """The bytes of an image of the built book, from its address in the page."""
    import base64
    from urllib.parse import unquote

    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    path = unquote(urlparse(src).path)
    if src.startswith("file:"):
        return Path(path).read_bytes()
    return (HTML / path.lstrip("/")).read_bytes()


def _small_text(figures: list[dict], width: int) -> list[str]:
    """Figures whose smallest text shows under MIN_FONT_PT at this width, or whose
    smallest glyph (mathtext's scripts) under MIN_GLYPH_PT: the sizes the figure was
    drawn with (its stamp) times the scale it is displayed at."""
    from lindiff import layout

    bad = []
    for f in figures:
        if not f["figure"]:
            continue
        stamp = layout.figure_stamp(_image_bytes(f["src"]))
        name = f["src"][-40:] if not f["src"].startswith("data:") else "explorer frame"
        if stamp is None:
            bad.append(f"{name}: not drawn by lindiff.layout.figure_png")
            continue
        pt = shown_pt(stamp, f["natural"], f["shown"])
        if pt < MIN_FONT_PT:
            bad.append(f"{name}: {pt:.1f} pt at {width} px ({stamp['layout']} drawing)")
        glyph = shown_pt(stamp, f["natural"], f["shown"], "min_glyph_pt")
        if glyph < MIN_GLYPH_PT:
            bad.append(f"{name}: a glyph of {glyph:.1f} pt at {width} px")
    return bad


# What is wider than a box that hides its overflow is cut: every formula (inline or
# display), code block and table must either fit or scroll sideways in its own box (what
# overflows a box that shows it widens the page, which the phone's width check catches).
_CUT = """() => Array.from(document.querySelectorAll(
    'main span.math, main div.math, main mjx-container, main pre, .bd-article table'))
    .filter(e => e.scrollWidth > e.clientWidth + 1 &&
                 ['hidden', 'clip'].includes(getComputedStyle(e).overflowX))
    .map(e => e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 60))"""


# Printed tables (output with three lines or more whose words stand in columns, two
# spaces apart) whose lines wrap, so that their columns no longer line up.
_WRAPPED = """() => Array.from(document.querySelectorAll('main div.cell_output pre'))
    .filter(p => p.textContent.split('\\n').filter(l => /\\S {2,}\\S/.test(l))
                   .length >= 3 &&
                 getComputedStyle(p).whiteSpace !== 'pre')
    .map(p => p.textContent.trim().slice(0, 60))"""


# Runs in the page after load: wait for MathJax, then report what is wrong.
_INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  // the widget manager renders asynchronously after the load event: wait for it (20 s)
  const VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';
  const views = () => document.querySelectorAll(VIEW).length;
  const shown = () =>
    document.querySelectorAll('.jupyter-widgets, .widget-container').length;
  for (let i = 0; i < 200 && views() > 0 && shown() === 0; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'))
      .map(m => m.textContent.slice(0, 80));
  const errors = Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
      .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  const walker = document.createTreeWalker(
      document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  const SKIP = 'pre, code, script, style, mjx-container, .highlight, textarea';
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest(SKIP)) continue;
    const t = n.textContent;
    // display or inline delimiters, a dollar sign before TeX, or a backslash macro
    if (/\\\\\\(|\\\\\\[|\\$\\$|\\\\begin\\{|\\$[^\\s$]|\\\\[A-Za-z]{2,}/.test(t)) {
      raw.push(t.trim().slice(0, 80));
    }
  }
  // figures load lazily (the drawing for the other width is hidden and never fetched):
  // load every image shown at this width now, then check them all
  const shown_images =
      Array.from(document.images).filter(i => i.getClientRects().length);
  shown_images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(shown_images.map(i => i.decode().catch(() => null)));
  const images = shown_images
      .map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                  alt: i.alt, figure: !!i.closest('figure')}));
  const widgets = views();
  const SHOWN =
    '.jupyter-widgets, .widget-container, .jp-OutputArea-output .widget-slider';
  const rendered = document.querySelectorAll(SHOWN).length;
  const mathjax = document.querySelectorAll('mjx-container').length;
  // code that runs past the column (scrolls sideways) at this width
  const overflow = Array.from(document.querySelectorAll('main pre'))
      .filter(p => p.scrollWidth > p.clientWidth + 1)
      .map(p => p.textContent.trim().slice(0, 60));
  // display equations and tables wider than the column at this width
  const wide = Array.from(document.querySelectorAll(
      'main mjx-container[display="true"], .bd-article table'))
      .filter(e => e.scrollWidth > e.clientWidth + 1)
      .map(e => e.tagName.toLowerCase() + ' ' + e.scrollWidth + '/' + e.clientWidth);
  return {
    maths: maths.length, mathjax, untypeset, errors, raw, images, widgets, rendered,
    overflow, wide
  };
}"""


def _check_page(browser, url: str, shot: Path | None) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    offline: list[str] = []

    def route(r):
        if _is_local(r.request.url):
            r.continue_()
        else:
            offline.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on(
        "requestfailed",
        lambda r: problems.append(f"request failed: {r.url} ({r.failure})"),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"),
    )
    page.on(
        "console",
        lambda m: m.type == "error" and problems.append(f"console error: {m.text}"),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url, wait_until="load")
    report = page.evaluate(_INSPECT)
    page.wait_for_timeout(300)
    report["small"] = _small_text(page.evaluate(_FIGURES), 1280)
    report["phone_width"] = 0
    report["clipped"] = page.evaluate(_CUT)
    if shot is not None:  # served (None): the same layout, checked from disk at 390 px
        _check_phone(page, report, shot)
    context.close()
    report["problems"] = [p for p in problems if not any(o in p for o in offline)]
    report["offline"] = offline
    return report


def _check_phone(page, report: dict, shot: Path) -> None:
    """Screenshots at 1280 and 390 px, and ``report`` completed with the page's layout
    on a phone."""
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    # the same page on a phone: nothing may widen the page beyond the screen
    page.set_viewport_size({"width": 390, "height": 800})
    page.wait_for_timeout(300)
    report["phone_width"] = page.evaluate("() => document.documentElement.scrollWidth")
    # on a phone, what is wider than the column must scroll in its own box, not be cut
    report["clipped"] += page.evaluate(_CUT)
    figures = page.evaluate(_FIGURES)
    report["small"] += _small_text(figures, 390)
    # a printed table (three lines or more in columns) keeps its lines on a phone
    report["wrapped"] = page.evaluate(_WRAPPED)
    # no figure taller than one and a half screens of a 390 x 844 px phone
    report["tall"] = [
        f"{f['src'][-40:]}: {f['height']} px"
        for f in figures
        if f["figure"] and f["height"] > PHONE_SCREENS * 844
    ]
    phone = shot.parent / "390" / shot.name
    phone.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(phone), full_page=True)


PAGES = _pages()


@pytest.mark.parametrize("how", ["file", "http"])
@pytest.mark.parametrize(
    "page", PAGES, ids=[str(p.relative_to(HTML)) for p in PAGES] or None
)
def test_page(browser, server, page, how):
    rel = page.relative_to(HTML)
    url = page.as_uri() if how == "file" else f"{server}/{rel.as_posix()}"
    shot = SHOTS / rel.with_suffix(".png") if how == "file" else None
    r = _check_page(browser, url, shot)
    assert r["offline"] == [], f"{rel}: requests to the network: {r['offline']}"
    assert r["problems"] == [], f"{rel}: {r['problems']}"
    assert r["untypeset"] == [], (
        f"{rel}: equations not typeset by MathJax: {r['untypeset'][:5]}"
    )
    assert r["errors"] == [], f"{rel}: MathJax errors: {r['errors'][:5]}"
    assert r["raw"] == [], f"{rel}: raw TeX left in the text: {r['raw'][:5]}"
    assert r["overflow"] == [], (
        f"{rel}: code wider than the column: {r['overflow'][:3]}"
    )
    assert r["phone_width"] <= 390, f"{rel}: {r['phone_width']} px wide at 390 px"
    assert r["wide"] == [], (
        f"{rel}: equations or tables wider than the column: {r['wide']}"
    )
    assert r["clipped"] == [], (
        f"{rel}: cut off at 1280 or 390 px, not scrollable: {r['clipped'][:5]}"
    )
    assert r["small"] == [], f"{rel}: figures with text too small: {r['small'][:3]}"
    assert r.get("wrapped", []) == [], (
        f"{rel}: printed tables whose lines wrap at 390 px: {r['wrapped'][:3]}"
    )
    assert r.get("tall", []) == [], (
        f"{rel}: figures taller than {PHONE_SCREENS} screens at 390 px: {r['tall']}"
    )
    bad = [i["src"] for i in r["images"] if not i["ok"]]
    assert bad == [], f"{rel}: images that did not load: {bad}"
    unnamed = [
        i["src"]
        for i in r["images"]
        if i["figure"] and (not i["alt"] or i["alt"].lower().endswith(".png"))
    ]
    assert unnamed == [], f"{rel}: figures without alt text: {unnamed[:3]}"
    if r["widgets"]:
        assert r["rendered"] > 0, f"{rel}: {r['widgets']} widget views, none rendered"


# Every control of every explorer (lindiff.plot.Explorer) is moved to another value; the
# figure (or the note shown instead of it) must change, without a kernel, and the frame
# shown must load; then every combination of the controls is shown, and both drawings
# of its frame (desktop and phone) must load.
_EXPLORE = """async () => {
  const report = [];
  const roots = Array.from(document.querySelectorAll('.lp-explorer'));
  for (const [n, root] of roots.entries()) {
    const img = root.querySelector('img');
    const note = root.querySelector('.lp-note');
    const state = () => img.src + '|' + note.textContent;
    for (const field of root.querySelectorAll('[data-control]')) {
      const before = state();
      const size = field.tagName === 'SELECT'
        ? field.options.length : Number(field.max) + 1;
      field.value = String((Number(field.value) + 1) % size);
      field.dispatchEvent(new Event('input'));
      field.dispatchEvent(new Event('change'));
      // the frame shown now (a file in the built site) must load
      let loaded = true;
      if (!root.classList.contains('lp-empty')) {
        img.loading = 'eager';
        loaded = await img.decode().then(() => img.naturalWidth > 0, () => false);
      }
      report.push({explorer: n, control: field.dataset.control, size,
                   changed: state() !== before, loaded, src: img.src.slice(-40)});
    }
    // then every combination of the controls: both drawings of each frame must load
    const fields = Array.from(root.querySelectorAll('[data-control]'));
    const sizes = fields.map(f => f.tagName === 'SELECT'
      ? f.options.length : Number(f.max) + 1);
    const total = sizes.reduce((a, b) => a * b, 1);
    const phone = root.querySelector('img.lp-phone');
    for (let index = 0; index < total; index++) {
      let rest = index;
      for (let k = fields.length - 1; k >= 0; k--) {
        fields[k].value = String(rest % sizes[k]);
        rest = Math.floor(rest / sizes[k]);
      }
      fields.forEach(f => f.dispatchEvent(new Event('input')));
      if (root.classList.contains('lp-empty')) continue;
      for (const shown of [img, phone]) {
        shown.loading = 'eager';
        const loaded =
          await shown.decode().then(() => shown.naturalWidth > 0, () => false);
        report.push({explorer: n, control: 'all', combination: index, size: total,
                     changed: true, loaded, src: shown.src.slice(-40)});
      }
    }
  }
  return report;
}"""


EXPLORER_PAGES = [
    p for p in PAGES if "lp-explorer" in p.read_text(encoding="utf-8", errors="ignore")
]


@pytest.mark.parametrize(
    "page",
    EXPLORER_PAGES,
    ids=[str(p.relative_to(HTML)) for p in EXPLORER_PAGES] or None,
)
def test_explorers_respond_without_a_kernel(browser, page):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.goto(page.as_uri(), wait_until="load")
    report = tab.evaluate(_EXPLORE)
    context.close()
    assert report, f"{page.name}: an explorer without controls"
    still = [r for r in report if r["size"] > 1 and not r["changed"]]
    assert still == [], f"{page.name}: controls that change nothing: {still}"
    lost = [r for r in report if not r["loaded"]]
    assert lost == [], f"{page.name}: frames that did not load: {lost}"


def test_every_chapter_has_an_explorer_and_no_widget_manager():
    """The explorers are static; no page loads the ipywidgets manager any more."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8", errors="ignore")
        assert "embed-amd" not in text and "widget-view+json" not in text, page.name
    built = {p.name for p in EXPLORER_PAGES}
    for nb in sorted((ROOT / "chapters").glob("[0-9]*.ipynb")):  # not the appendix
        assert f"{nb.stem}.html" in built, f"{nb.name}: no explorer in the page"


@pytest.mark.parametrize("how", ["file", "http"])
def test_search_from_disk_and_served(browser, server, how):
    """Served, a search lists pages with plain-text snippets (no TeX source); from disk
    it lists them by title, says so once above the results, and logs no error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors, missing = [], []
    tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("response", lambda r: r.status >= 400 and missing.append(r.url))
    base = HTML.as_uri() if how == "file" else server
    tab.goto(f"{base}/search.html?q=Marchenko", wait_until="load")
    tab.wait_for_function(
        "() => /found|did not match/.test("
        "document.getElementById('search-results').innerText)",
        timeout=20000,
    )
    tab.wait_for_timeout(1500)  # the snippets are fetched after the list
    found = tab.eval_on_selector_all("#search-results li", "els => els.length")
    snippets = tab.eval_on_selector_all(
        "#search-results p.context", "els => els.map(e => e.textContent)"
    )
    notes = tab.eval_on_selector_all(".book-search-note", "els => els.length")
    context.close()
    # a failed load of the page's own files shows in `missing`; the console's "Failed to
    # load resource" without one is the browser's request for a site icon (none here)
    errors = [e for e in errors if not e.startswith("Failed to load resource")]
    assert missing == [], f"{how}: not found: {missing[:3]}"
    assert found > 0, f"{how}: the search found nothing"
    assert errors == [], f"{how}: {errors[:3]}"
    if how == "file":
        assert notes == 1 and snippets == []
    else:
        assert notes == 0 and snippets, "served: no snippets"
        raw = [t for t in snippets if re.search(r"\\[(\[]|\\[A-Za-z]{2,}", t)]
        assert raw == [], f"served: TeX source in the snippets: {raw[:2]}"


@pytest.mark.parametrize(
    "page", EXPLORER_PAGES, ids=[p.name for p in EXPLORER_PAGES] or None
)
@pytest.mark.parametrize("width", [390, 1280])
def test_a_screen_fetches_only_its_own_drawings(browser, page, width):
    """Each figure is drawn for a desktop and for a phone; the style sheet hides the one
    not meant for the screen, and lazy loading keeps the browser from fetching it: a
    phone downloads no desktop drawing, a desktop no phone drawing (every image of the
    page scrolled into view, the hidden ones included)."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    tab = context.new_page()
    fetched = []
    tab.on("request", lambda r: fetched.append(r.url))
    tab.goto(page.as_uri(), wait_until="load")
    tab.evaluate(
        """async () => {
          for (const img of document.querySelectorAll('main img')) {
            img.scrollIntoView();
            // until the image in view has loaded (a hidden one never does), 2 s at most
            const shown = () => img.getClientRects().length > 0;
            for (let i = 0; i < 20 && shown() && !img.complete; i++) {
              await new Promise(r => setTimeout(r, 100));
            }
          }
          await new Promise(r => setTimeout(r, 300));
        }"""
    )
    other = "lp-desktop" if width < 650 else "lp-phone"
    own = "lp-phone" if width < 650 else "lp-desktop"
    # the drawings stored as files (the explorers' frames too, in the built site)
    files = "els => els.map(e => e.src).filter(s => !s.startsWith('data:'))"
    srcs = {
        kind: set(tab.eval_on_selector_all(f"img.{kind}", files))
        for kind in (other, own)
    }
    context.close()
    assert srcs[own], f"{page.name}: no {own} figures"
    wrong = srcs[other] & set(fetched)
    assert wrong == set(), f"{page.name}: {len(wrong)} {other} drawings fetched"
    assert srcs[own] <= set(fetched), f"{page.name}: {own} drawings not fetched"


# What a phone fetches on the first load of a page (390 px, as a static host sends it,
# gzip): at most this much in all, and this much of it the page's own HTML.
FIRST_LOAD_MB, HTML_KB = 1.2, 300


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(HTML)) for p in PAGES])
def test_a_phone_loads_a_page_in_at_most_1_2_mb(browser, page):
    """Every file the browser fetches while loading the page at 390 x 844 px (the
    figures of the first screen included, no scrolling), each counted at its gzip size
    (level 6, what a static host sends)."""
    import gzip
    from urllib.parse import unquote

    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    fetched = []
    tab.on("request", lambda r: fetched.append(r.url))
    tab.goto(page.as_uri(), wait_until="load")
    tab.wait_for_timeout(500)
    context.close()
    sizes = {}
    for url in dict.fromkeys(fetched):
        path = Path(unquote(urlparse(url).path))
        if url.startswith("file:") and path.is_file():
            sizes[path.name] = len(gzip.compress(path.read_bytes(), 6))
    total = sum(sizes.values())
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:4]
    assert total <= FIRST_LOAD_MB * 1e6, f"{page.name}: {total / 1e6:.2f} MB: {top}"
    assert sizes[page.name] <= HTML_KB * 1e3, (
        f"{page.name}: its HTML is {sizes[page.name] / 1e3:.0f} kB"
    )


def test_the_source_archive_is_built_and_linked():
    """The introduction links to the whole source, written with the book."""
    import zipfile

    archive = HTML / "book-source.zip"
    assert archive.exists(), (
        "no book-source.zip next to the pages (make book writes it)"
    )
    with zipfile.ZipFile(archive) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
    needed = {"Makefile", "README.md", "requirements.txt", "lindiff_core.py"}
    needed |= {f"chapters/{p.name}" for p in (ROOT / "chapters").glob("*.ipynb")}
    assert needed <= names, f"missing from the archive: {sorted(needed - names)}"
    assert 'href="book-source.zip"' in (HTML / "intro.html").read_text()


# The whole built site, everything a static host serves (pages, figures, style, MathJax,
# the PDF and the source archive), in bytes.
SITE_MB = 25


def test_the_whole_site_weighs_at_most_25_mb():
    files = [p for p in HTML.rglob("*") if p.is_file()]
    sizes = {p: p.stat().st_size for p in files}
    parts = {}
    for p, size in sizes.items():
        top = p.relative_to(HTML).parts[0]
        parts[top] = parts.get(top, 0) + size
    total = sum(sizes.values())
    top = sorted(parts.items(), key=lambda kv: -kv[1])[:6]
    listed = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in top)
    assert total <= SITE_MB * 1e6, f"the site is {total / 1e6:.1f} MB: {listed}"


def test_every_chapter_is_built():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        assert f"chapters/{nb.stem}" in toc, f"{nb.name} is not in _toc.yml"
        assert (HTML / "chapters" / f"{nb.stem}.html").exists(), (
            f"{nb.name} was not built"
        )


def test_pages_were_found():
    assert any(p.name == "intro.html" for p in PAGES), f"no pages found in {HTML}"


# Links of the primary sidebar (the book's table of contents) shown across the width of
# the screen (the sidebar may scroll), and the search fields shown.
_NAVIGATION = """() => {
  const onScreen = el => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= innerWidth
      && s.visibility !== 'hidden';
  };
  const links = Array.from(document.querySelectorAll('.bd-sidebar-primary a'))
    .filter(onScreen).length;
  const searches = Array.from(
    document.querySelectorAll('.search-button-field, .search-button__button'))
    .filter(onScreen).length;
  return {links, searches};
}"""


@pytest.mark.parametrize("width", [390, 800, 1280])
def test_navigation_opens_at_every_width(browser, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto((HTML / "intro.html").as_uri(), wait_until="load")
    entries = (ROOT / "_toc.yml").read_text().count("- file:") + 1  # and the root
    before = page.evaluate(_NAVIGATION)
    assert before["searches"] <= 1, f"{width} px: {before['searches']} search fields"
    if width >= 1200:  # the sidebar is open beside the page
        assert before["links"] >= entries, f"{width} px: no contents beside the page"
    else:  # the menu button opens it
        toggles = page.locator(".primary-toggle")
        visible = [toggles.nth(i) for i in range(toggles.count())]
        visible = [t for t in visible if t.is_visible()]
        assert visible, f"{width} px: no visible menu button"
        visible[0].click()
        page.wait_for_timeout(400)
        after = page.evaluate(_NAVIGATION)
        assert after["links"] >= entries, f"{width} px: the menu opened no contents"
    context.close()


# The search page's field: where its magnifier ends and where its text starts.
_SEARCH_FIELD = """() => {
  const form = document.querySelector('.bd-content form.bd-search');
  const icon = form.querySelector('.fa-magnifying-glass').getBoundingClientRect();
  const input = form.querySelector('input');
  const pad = parseFloat(getComputedStyle(input).paddingLeft);
  return {icon: icon.right, text: input.getBoundingClientRect().left + pad};
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_search_fields_magnifier_does_not_cover_its_text(browser, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto((HTML / "search.html").as_uri() + "?q=floor", wait_until="load")
    field = page.evaluate(_SEARCH_FIELD)
    context.close()
    assert field["icon"] <= field["text"], f"{width} px: {field}"


def test_the_whole_book_is_in_the_site_as_one_pdf():
    """``make book`` and ``make build`` print the book into the site (``scripts/pdf.py``
    fails if the printed copy loses an equation or a figure): every page in one PDF,
    one A4 page or more per page of the book, linked from the introduction and from
    the download menu of every page."""
    import re

    pdf = HTML / "book.pdf"
    if not pdf.exists() and _chromium() is None and not os.environ.get("CI"):
        pytest.skip("no Chromium found: the book was built without its PDF")
    assert pdf.exists(), "no book.pdf next to the pages (make book prints it)"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    chapters = (ROOT / "_toc.yml").read_text().count("- file:") + 1  # and the root
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) >= chapters
    assert 'href="book.pdf"' in (HTML / "intro.html").read_text()
    # the figures stored with their palettes, the equations typeset in MathJax's fonts
    # (not drawn as paths): what keeps the PDF a third of what Chromium prints
    import pikepdf

    with pikepdf.open(pdf) as doc:
        images = [
            o
            for o in doc.objects
            if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image"
        ]
        fonts = {  # the family a font's descriptor names (Chromium's Type 3 fonts)
            str(o.FontDescriptor.get("/FontFamily"))
            for o in doc.objects
            if isinstance(o, pikepdf.Dictionary)
            and o.get("/Type") == "/Font"
            and "/FontDescriptor" in o
        }
    assert len(images) >= 30, f"{len(images)} images in the PDF"
    rgb = [o.objgen for o in images if o.ColorSpace[0] != "/Indexed"]
    assert rgb == [], f"{len(rgb)} of {len(images)} images not indexed: {rgb[:5]}"
    assert "MathJax_Main" in fonts and "MathJax_Math" in fonts, sorted(fonts)
    unlinked = [
        str(p.relative_to(HTML))
        for p in PAGES
        if "dropdown-download-buttons" in (text := p.read_text(encoding="utf-8"))
        and not re.search(r'href="(\.\./)*\.?/?book\.pdf"', text)
    ]
    assert unlinked == [], f"pages without the PDF in their download menu: {unlinked}"
