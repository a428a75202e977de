// The Sandbox simulator (the customer's phone): tells the inbox that the customer types, and
// shows "typing…" while the agent types (event typing-agent-<conversation>: typing / paused).
(function () {
  "use strict";
  if (window.switchboardSimulator) { return; }
  window.switchboardSimulator = true;
  var SEND_EVERY = 4000, IDLE_AFTER = 5000, SHOW_FOR = 8000;
  var sentAt = 0, on = false, idle = null, hideTimer = null;

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; } catch (e) { return ""; }
  }
  function form() { return document.querySelector(".sim-compose"); }
  function send(state) {
    var f = form(); if (!f) { return; }
    var body = new URLSearchParams();
    body.set("channel_id", f.elements.channel_id.value);
    body.set("phone", f.elements.phone.value);
    body.set("state", state);
    fetch("/simulator/typing", { method: "POST", credentials: "same-origin", headers: { "x-csrftoken": csrf() }, body: body })
      .catch(function () { /* an indicator is a nicety */ });
  }
  function stop() {
    clearTimeout(idle);
    if (on) { on = false; send("paused"); }
  }
  document.addEventListener("input", function (evt) {
    var f = form();
    if (!f || evt.target !== f.elements.text) { return; }
    if (!evt.target.value) { stop(); return; }
    var now = Date.now();
    if (!on || now - sentAt >= SEND_EVERY) { on = true; sentAt = now; send("typing"); }
    clearTimeout(idle);
    idle = setTimeout(stop, IDLE_AFTER);
  });
  document.addEventListener("submit", function (evt) {
    if (evt.target === form()) { clearTimeout(idle); on = false; }  // the message itself ends it
  });

  function show(state) {
    var p = document.getElementById("sim-typing"); if (!p) { return; }
    clearTimeout(hideTimer);
    if (state === "typing") {
      p.textContent = p.dataset.text || "";
      var thread = document.querySelector(".thread.sim");  // the latest messages in view, as on a phone
      if (thread) { thread.scrollTop = thread.scrollHeight; }
      hideTimer = setTimeout(function () { p.textContent = ""; }, SHOW_FOR);
    } else {
      p.textContent = "";
    }
  }
  // Like a phone, the thread opens at its newest message and follows new ones (unless the
  // customer scrolled up to read).
  function thread() { return document.querySelector(".thread.sim"); }
  var stick = true;
  function toBottom() { var t = thread(); if (t) { t.scrollTop = t.scrollHeight; } }
  document.addEventListener("scroll", function (evt) {
    var t = thread(); if (t && evt.target === t) { stick = t.scrollHeight - t.scrollTop - t.clientHeight < 80; }
  }, true);
  document.addEventListener("htmx:sseMessage", function (evt) {
    var type = evt.detail && evt.detail.type;
    if (type && type.indexOf("message-new-") === 0 && stick) { toBottom(); }
  });
  document.addEventListener("htmx:afterSettle", function () { if (stick) { toBottom(); } });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", toBottom); } else { toBottom(); }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var type = evt.detail && evt.detail.type; if (!type) { return; }
    if (type.indexOf("typing-agent-") === 0) { evt.preventDefault(); show(String(evt.detail.data || "").trim()); return; }
    // The agent's message arrived: they are no longer typing.
    if (type.indexOf("message-new-") === 0 && /msg-out/.test(String(evt.detail.data || ""))) { show("paused"); }
  });
})();
