// Search, from disk and served. Opened from disk, the browser may not fetch the pages
// whose text the search snippets come from: the search then lists the matching pages by
// title and says once, above the results, that snippets need the served book. Served,
// the snippets are the pages' raw text, whose equations are TeX source: they are shown as
// plain text, the delimiters dropped and the book's macros and Greek letters spelled out.
(function () {
  "use strict";
  const fromDisk = location.protocol === "file:";
  if (fromDisk && typeof DOCUMENTATION_OPTIONS !== "undefined") {
    DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
  }
  const WORDS = {
    SigO: "Σ₀", Sig: "Σ", Sigma: "Σ", muO: "μ₀", abar: "ᾱ", Tr: "Tr", E: "E", KL: "D_KL",
    Id: "I", eps: "ε", epst: "ε_θ", R: "ℝ", N: "N", alpha: "α", beta: "β", gamma: "γ",
    delta: "δ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", rho: "ρ", sigma: "σ", tau: "τ",
    theta: "θ", varphi: "φ", phi: "φ", eta: "η", infty: "∞", le: "≤", ge: "≥", leq: "≤",
    geq: "≥", sim: "~", simeq: "≃", approx: "≈", cdot: "·", times: "×", to: "→", in: "∈",
    sqrt: "√", sum: "Σ", ln: "ln", log: "log", det: "det", min: "min", max: "max",
  };
  const plain = (text) =>
    text
      .replace(/\\[()[\]]/g, "")
      .replace(/\$+/g, "")
      .replace(/\\([A-Za-z]+)/g, (_, w) => (w in WORDS ? WORDS[w] : w))
      .replace(/\\(.)/g, "$1")
      .replace(/[{}]/g, "");
  document.addEventListener("DOMContentLoaded", () => {
    const results = document.getElementById("search-results");
    if (!results) return;
    if (fromDisk) {
      const note = document.createElement("p");
      note.className = "book-search-note";
      note.textContent =
        "Opened from disk, search lists the matching pages by title. For snippets of " +
        "their text, serve the book (for example with python -m http.server in " +
        "_build/html) and search there.";
      results.before(note);
      return;
    }
    new MutationObserver(() => {
      results.querySelectorAll("p.context").forEach((p) => {
        const text = plain(p.textContent);
        if (text !== p.textContent) p.textContent = text;
      });
    }).observe(results, { childList: true, subtree: true, characterData: true });
  });
})();
