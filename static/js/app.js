// Switchboard's few lines of behaviour that HTML attributes cannot express.
// No build step: plain JavaScript, loaded after htmx and its SSE extension.
(function () {
  "use strict";
  var status = function () { return document.getElementById("live-status"); };
  var connectedOnce = false;

  // Reload the main pane in place (after a reconnect or a missed-events notice); a reconnect
  // and the stream's own notice come together: one reload at a time.
  var resyncing = false;
  function resync() {
    if (!window.htmx || resyncing) { return; }
    resyncing = true;
    var done = function () { resyncing = false; };
    htmx.ajax("GET", window.location.href, { target: "#main", select: "#main", swap: "outerHTML" }).then(done, done);
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
    if (type === "reload") { window.location.reload(); }
  });
  // Appending swaps are idempotent: an element the page already has (same id) is replaced,
  // not added twice. A stream replays the events since its page's request began (the page may
  // already show some of them), and a reconnect may deliver an event again.
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var el = evt.target, how = el && el.getAttribute ? (el.getAttribute("hx-swap") || "") : "";
    if (how !== "beforeend" && how !== "afterbegin") { return; }
    var tpl = document.createElement("template");
    tpl.innerHTML = String(evt.detail.data || "").trim();
    var fresh = tpl.content.firstElementChild;
    var old = fresh && fresh.id ? document.getElementById(fresh.id) : null;
    if (!old) { return; }
    evt.preventDefault();
    old.replaceWith(fresh);
    if (window.htmx) { htmx.process(fresh); }
  });

  // Copy buttons: <button data-copy="#element-id" data-copied="Copied">: copies the element's text.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest ? evt.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      if (button.dataset.copied) { button.textContent = button.dataset.copied; }
    });
  });

  // Confirm dangerous forms: <form data-confirm="Question?">.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      evt.preventDefault();
    }
  }, true);

  // Errors come back as a toast (HX-Retarget: #toasts, app/web/errors.py): show them on every
  // page (htmx does not swap error responses by default; /operator showed nothing).
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) { evt.detail.shouldSwap = true; evt.detail.isError = false; }
  });

  // Toasts disappear after a while.
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "toasts") {
      var toast = evt.detail.target.lastElementChild;
      setTimeout(function () { if (toast) { toast.remove(); } }, 6000);
    }
  });
})();
