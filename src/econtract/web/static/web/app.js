/* Page behaviour that templates declare with data attributes; no inline script or style is needed. */
(function () {
  "use strict";

  function sizePages(root) {
    // Reserve each page's height before its image loads, so boxes and scrolling do not jump.
    Array.prototype.forEach.call(root.querySelectorAll("figure.page[data-width][data-height]"), function (figure) {
      var canvas = figure.querySelector(".page-canvas");
      if (canvas) canvas.style.aspectRatio = figure.dataset.width + " / " + figure.dataset.height;
    });
    Array.prototype.forEach.call(root.querySelectorAll(".overlay[data-left]"), function (box) {
      box.style.left = parseFloat(box.dataset.left) * 100 + "%";
      box.style.top = parseFloat(box.dataset.top) * 100 + "%";
      box.style.width = parseFloat(box.dataset.w) * 100 + "%";
      box.style.height = parseFloat(box.dataset.h) * 100 + "%";
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // htmx leaves the page as it was when a request fails (a lost session, a server error); say so.
  document.addEventListener("htmx:responseError", function () {
    window.alert(document.body.dataset.requestFailed);
  });
  document.addEventListener("htmx:sendError", function () {
    window.alert(document.body.dataset.requestFailed);
  });

  document.addEventListener("DOMContentLoaded", function () { sizePages(document); });
  document.addEventListener("htmx:afterSwap", function (event) { sizePages(event.target); });
})();
