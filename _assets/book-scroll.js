// A display equation wider than its column scrolls sideways. The edge beyond which more
// of it lies fades out (the classes lp-more-left and lp-more-right, which the book's
// style sheet draws as a mask), so that a reader on a phone sees there is more; the
// fade follows the scrolling and the width of the screen, on any background.
(function () {
  "use strict";
  const SELECTOR = 'mjx-container[display="true"]';
  function mark(el) {
    const hidden = el.scrollWidth - el.clientWidth;
    el.classList.toggle("lp-more-left", hidden > 1 && el.scrollLeft > 1);
    el.classList.toggle("lp-more-right", hidden > 1 && el.scrollLeft < hidden - 1);
  }
  function markAll() {
    document.querySelectorAll(SELECTOR).forEach((el) => {
      if (!el.dataset.lpScroll) {
        el.dataset.lpScroll = "1";
        el.addEventListener("scroll", () => mark(el), { passive: true });
      }
      mark(el);
    });
  }
  window.addEventListener("load", () => {
    const startup = window.MathJax && MathJax.startup && MathJax.startup.promise;
    (startup || Promise.resolve()).then(markAll);
  });
  window.addEventListener("resize", markAll);
})();
