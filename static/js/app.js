// Switchboard's few lines of behaviour that HTML attributes cannot express.
// No build step: plain JavaScript, loaded after htmx and its SSE extension.
(function () {
  "use strict";
  var status = function () { return document.getElementById("live-status"); };
  var connectedOnce = false;

  // Reload the main pane in place (after a reconnect or a missed-events notice).
  function resync() {
    if (!window.htmx) { return; }
    htmx.ajax("GET", window.location.href, { target: "#main", select: "#main", swap: "outerHTML" });
  }

  document.addEventListener("htmx:sseOpen", function () {
    var s = status(); if (s) { s.hidden = true; }
    if (connectedOnce) { resync(); }
    connectedOnce = true;
  });
  document.addEventListener("htmx:sseError", function () {
    var s = status(); if (s) { s.hidden = false; }
  });
  document.addEventListener("htmx:sseMessage", function (evt) {
    var type = evt.detail && evt.detail.type;
    if (type === "resync") { resync(); }
    if (type === "logged-out") { window.location.href = "/login"; }
  });
  // The SSE extension only dispatches events that an element listens to: listen on body.
  document.addEventListener("htmx:sseBeforeMessage", function () {});

  // Confirm dangerous forms: <form data-confirm="Question?">.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      evt.preventDefault();
    }
  }, true);

  // Toasts disappear after a while.
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "toasts") {
      var toast = evt.detail.target.lastElementChild;
      setTimeout(function () { if (toast) { toast.remove(); } }, 6000);
    }
  });
})();
