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

  // Alerts on every page (app/web/alerts.py): a conversation assigned to me, a customer writing
  // in one I hold, a mention. A sound (the one chosen on /profile), a desktop notification once
  // allowed, and a count in the title while the page is not looked at (the inbox counts unread
  // messages itself).
  var alerts = 0, baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
  var SOUNDS = {
    chime: [[660, 0, 0.12], [880, 0.12, 0.2]],
    bell: [[1320, 0, 0.45]],
    pop: [[440, 0, 0.08]]
  };
  function play(name) {
    var notes = SOUNDS[name || "chime"]; if (!notes) { return; }
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext; if (!Ctx) { return; }
      var ctx = play.ctx || (play.ctx = new Ctx());
      notes.forEach(function (n) {
        var osc = ctx.createOscillator(), gain = ctx.createGain(), at = ctx.currentTime + n[1];
        osc.frequency.value = n[0]; gain.gain.setValueAtTime(0.08, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + n[2]);
        osc.connect(gain); gain.connect(ctx.destination); osc.start(at); osc.stop(at + n[2]);
      });
    } catch (e) { /* sound is a nicety */ }
  }
  window.switchboardPlay = play;
  function looking() { return document.visibilityState === "visible" && document.hasFocus(); }
  function countAlert() {
    if (document.getElementById("inbox")) { return; }  // static/js/inbox.js owns the inbox's title
    alerts += 1; document.title = "(" + alerts + ") " + baseTitle;
  }
  function clearCount() {
    if (!alerts || document.getElementById("inbox")) { return; }
    alerts = 0; document.title = baseTitle;
  }
  window.addEventListener("focus", clearCount);
  document.addEventListener("visibilitychange", function () { if (looking()) { clearCount(); } });
  function onAlert(raw) {
    var a; try { a = JSON.parse(raw); } catch (e) { return; }
    if (!a) { return; }
    var pane = document.getElementById("inbox-pane");
    var showing = pane && pane.dataset.conversation === String(a.conversation);
    if (showing && looking()) { return; }  // the agent is reading that very conversation
    play(document.body.dataset.sound);
    if (!looking()) { countAlert(); }
    var b = document.getElementById("alert-log");
    if (b) { b.textContent = a.title + (a.customer ? " · " + a.customer : "") + (a.text ? ": " + a.text : ""); }
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    try {
      var n = new Notification(a.kind === "assigned" ? a.title + ": " + a.customer : a.title,
        { body: a.text || "", tag: "conversation-" + a.conversation, icon: "/static/icons/icon-192.png" });
      n.onclick = function () { window.focus(); window.location.href = a.url; n.close(); };
    } catch (e) { /* some browsers only allow notifications from a service worker */ }
  }
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    if (evt.detail && evt.detail.type === "my-alert") { evt.preventDefault(); onAlert(evt.detail.data); }
  });

  // "Enable notifications" (any page that has the button) disappears once the browser answered.
  function notifyButton() {
    var b = document.getElementById("notify-enable"); if (!b) { return; }
    b.hidden = !("Notification" in window) || Notification.permission !== "default";
  }
  document.addEventListener("click", function (evt) {
    var b = evt.target && evt.target.closest ? evt.target.closest("#notify-enable") : null;
    if (b && "Notification" in window) { Notification.requestPermission().then(notifyButton); }
  });

  // The inbox asks an offline agent to go online; the prompt follows their presence live.
  function offlinePrompt() {
    var p = document.getElementById("offline-prompt"), sw = document.getElementById("presence-switch");
    if (!p || !sw) { return; }
    var on = sw.querySelector("button[aria-pressed=true]");
    p.hidden = !on || on.value !== "offline";
  }
  document.addEventListener("htmx:afterSettle", offlinePrompt);
  document.addEventListener("htmx:sseMessage", function (evt) {
    if (evt.detail && evt.detail.type === "my-presence") { offlinePrompt(); }
  });
  function start() { notifyButton(); offlinePrompt(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }

  // <button data-toggles="CLASS" data-toggle-target="SELECTOR">: shows or hides a panel by a
  // class on the target (the phone's customer panel); Escape closes it.
  document.addEventListener("click", function (evt) {
    var b = evt.target.closest && evt.target.closest("[data-toggles]"); if (!b) { return; }
    var target = document.querySelector(b.dataset.toggleTarget || ""); if (!target) { return; }
    var on = target.classList.toggle(b.dataset.toggles);
    document.querySelectorAll("[data-toggles='" + b.dataset.toggles + "'][aria-expanded]").forEach(function (x) {
      x.setAttribute("aria-expanded", on ? "true" : "false");
    });
    var panel = document.getElementById(b.getAttribute("aria-controls") || "");
    if (on && panel) { var first = panel.querySelector("button, a, input, select, textarea"); if (first) { first.focus(); } }
    if (!on) { var opener = document.querySelector("[data-toggles='" + b.dataset.toggles + "'][aria-expanded]"); if (opener) { opener.focus(); } }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") { return; }
    var open = document.querySelector(".show-customer"); if (!open) { return; }
    var close = open.querySelector(".customer-close"); if (close) { close.click(); }
  });

  // The conversation's labels arrive just after its pane: keep the thread at its newest message.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var t = evt.detail.target;
    if (!t || !t.classList || !t.classList.contains("convo-labels")) { return; }
    var thread = document.querySelector(".inbox-thread");
    if (thread && thread.scrollHeight - thread.scrollTop - thread.clientHeight < 160) { thread.scrollTop = thread.scrollHeight; }
  });

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
