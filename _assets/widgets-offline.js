// Lets the ipywidgets HTML manager run offline, next to MathJax 3.
// 1. Its webpack bundle loads its fonts relative to the URL that RequireJS gives the
//    module '@jupyter-widgets/html-manager/dist/embed-amd' (and later relative to
//    __jupyter_widgets_assets_path__): point both at the copy in _static/widgets/.
//    A global `require` object defined before require.js loads is its configuration.
// 2. ipywidgets 8 typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue);
//    the book uses MathJax 3, so map that call onto MathJax.typesetPromise.
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (here) {
    var widgets = here.replace(/[^/]*$/, "") + "widgets";
    window.__jupyter_widgets_assets_path__ = widgets + "/";
    window.require = { paths: { "@jupyter-widgets/html-manager/dist": widgets } };
  }
  function installHub() {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          var element = job && job[2];
          if (mj.typesetPromise) {
            mj.typesetPromise(element ? [element] : undefined).catch(function () {});
          }
        },
      };
    }
  }
  installHub();
  document.addEventListener("DOMContentLoaded", installHub);
})();
