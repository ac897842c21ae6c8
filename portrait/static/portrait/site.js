// Every page: mark that scripts run (the CSS hides what only a page without them needs), and
// give htmx's requests the CSRF token, which the page carries in a meta tag because the
// cookie is not readable from scripts.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRFToken"] = meta.content;
  }
});
