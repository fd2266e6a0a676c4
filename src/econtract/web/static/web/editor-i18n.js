// The document editor's words in the page's language: django-prose-editor reads window.gettext when
// its modules load, so this classic deferred script runs before them (document order). The catalog is a
// JSON data block the template writes with json_script (data, not code: the CSP allows it).
(function () {
  "use strict";
  var element = document.getElementById("editor-catalog");
  var catalog = {};
  if (element) {
    try {
      catalog = JSON.parse(element.textContent) || {};
    } catch (error) {
      catalog = {};
    }
  }
  window.gettext = function (text) {
    return Object.prototype.hasOwnProperty.call(catalog, text) ? catalog[text] : text;
  };
})();
