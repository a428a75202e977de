// Who else is here: the open pane tells the server this person views the conversation (on
// opening, every 25 s, while they type a reply, and on leaving); names whose time is up go.
(function () {
  "use strict";
  if (window.switchboardViewers) { return; }
  window.switchboardViewers = true;
  var HEARTBEAT = 25000, TYPING_EVERY = 4000;
  var current = "", beat = null, typedAt = 0;
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; } catch (e) { return ""; }
  }
  function post(id, state, leaving) {
    var body = new URLSearchParams({ state: state, _csrf_token: csrf() });
    if (leaving && navigator.sendBeacon) { navigator.sendBeacon("/inbox/" + id + "/viewing", body); return; }
    fetch("/inbox/" + id + "/viewing", { method: "POST", body: body, credentials: "same-origin",
      headers: { "x-csrftoken": csrf() } }).catch(function () { /* a nicety */ });
  }
  function slot() { return document.querySelector(".convo-viewers"); }
  function sync() {
    var s = slot(), id = s ? s.dataset.conversation : "";
    if (id === current) { return; }
    if (current) { post(current, "left", true); }
    current = id; clearInterval(beat);
    if (id) { post(id, "viewing"); beat = setInterval(function () { post(current, "viewing"); }, HEARTBEAT); }
  }
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:sseOpen", function () { if (current) { post(current, "viewing"); } });
  window.addEventListener("pagehide", function () { if (current) { post(current, "left", true); current = ""; } });
  document.addEventListener("input", function (evt) {
    if (!current || evt.target.id !== "composer-text") { return; }
    var now = Date.now();
    if (now - typedAt >= TYPING_EVERY) { typedAt = now; post(current, "typing"); }
  });
  setInterval(function () {
    var now = Date.now() / 1000;
    document.querySelectorAll(".convo-viewers .viewer[data-until]").forEach(function (v) {
      if (Number(v.dataset.until) < now) { v.remove(); }
    });
  }, 10000);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", sync); } else { sync(); }
})();
