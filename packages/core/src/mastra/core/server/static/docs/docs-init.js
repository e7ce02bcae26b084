// Starts Swagger UI on #swagger-ui. A static file, not an inline script: the page's
// Content-Security-Policy allows scripts from the server only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    // The public validator would send our document to a third party.
    validatorUrl: null,
  });
})();
