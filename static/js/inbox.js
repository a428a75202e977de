// The agent workspace (/inbox): live list and thread, composer, notifications, keyboard.
// The server sends one rendered row per event to everyone who may see the conversation;
// this file decides where the row goes in this tab's list (tab, filters, order).
(function () {
  "use strict";
  // A resync swaps #main (this script included) back in: keep one copy of the listeners.
  if (window.switchboardInbox) { return; }
  window.switchboardInbox = true;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
  var mine = {};          // conversation id -> unread, for the conversations I hold
  var queued = {};        // conversation id -> true, for the conversations in my Queue tab (its badge)
  var paneEl = null;      // the pane element last initialised
  var readTimer = null;

  function inbox() { return document.getElementById("inbox"); }
  function me() { var i = inbox(); return i ? i.dataset.me : ""; }
  function openId() { var p = $("#inbox-pane"); return p ? (p.dataset.conversation || "") : ""; }
  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = String(html || "").trim();
    return t.content.firstElementChild;
  }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; } catch (e) { return ""; }
  }

  // Sizes and times --------------------------------------------------------------------------
  function topbarHeight() {
    var bar = $(".topbar");
    document.documentElement.style.setProperty("--topbar-h", (bar ? bar.offsetHeight : 0) + "px");
  }
  var lang = (document.documentElement.lang || "en");
  function shortWhen(iso) {
    var d = new Date(iso); if (isNaN(d)) { return null; }
    var now = new Date();
    try {
      if (d.toDateString() === now.toDateString()) {
        return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
      }
      return d.toLocaleDateString(lang, { day: "numeric", month: "short" });
    } catch (e) { return null; }
  }
  function duration(seconds) {
    if (seconds < 60) { return "<1 min"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min"; }
    return Math.floor(seconds / 86400) + " d";
  }
  function refreshTimes(root) {
    $$(".row-time", root).forEach(function (t) { var s = shortWhen(t.getAttribute("datetime")); if (s) { t.textContent = s; } });
    var rows = $$(".inbox-row", root);
    if (root && root.classList && root.classList.contains("inbox-row")) { rows.push(root); }
    rows.forEach(function (li) {
      var wait = $(".row-wait", li); if (!wait || !li.dataset.since) { return; }
      var elapsed = (Date.now() - new Date(li.dataset.since).getTime()) / 1000;
      var timeout = parseFloat(li.dataset.timeout || "0");
      var ratio = timeout > 0 ? elapsed / timeout : 0;
      wait.classList.remove("wait-ok", "wait-warn", "wait-late");
      wait.classList.add(ratio >= 1 ? "wait-late" : ratio >= 0.5 ? "wait-warn" : "wait-ok");
      var text = $(".wait-text", wait); if (text) { text.textContent = duration(Math.max(0, elapsed)); }
    });
  }

  // Mine, title, notifications ------------------------------------------------------------------
  function loadMine() {
    var data = $("#inbox-mine-unread");
    mine = {};
    if (data) { try { mine = JSON.parse(data.textContent || "{}"); } catch (e) { mine = {}; } }
    var open = openId(); if (open && mine[open] !== undefined) { mine[open] = 0; }
    var q = $("#inbox-queue-ids"); queued = {};
    if (q) { try { JSON.parse(q.textContent || "[]").forEach(function (k) { queued[String(k)] = true; }); } catch (e) { queued = {}; } }
    updateTitle();
  }
  function updateTitle() {
    var total = 0, count = 0;
    Object.keys(mine).forEach(function (k) { total += Number(mine[k]) || 0; count += 1; });
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
    var c = $("#count-mine"); if (c) { c.textContent = String(count); }
    var q = $("#count-queue"); if (q && $("#inbox-queue-ids")) { q.textContent = String(Object.keys(queued).length); }
  }
  function inMyQueue(li) {
    if (queueStatuses().indexOf(li.dataset.status) < 0) { return false; }
    var everyDepartment = inbox().dataset.role !== "agent";
    return everyDepartment || !li.dataset.department || myDepartments().indexOf(li.dataset.department) >= 0;
  }
  // Sound and desktop notifications come as "my-alert" events on every page (static/js/app.js).

  // The list ------------------------------------------------------------------------------------
  function myDepartments() { var i = inbox(); return i && i.dataset.myDepartments ? i.dataset.myDepartments.split(",") : []; }
  function queueStatuses() { var i = inbox(); return i && i.dataset.queueStatuses ? i.dataset.queueStatuses.split(",") : []; }
  function matches(li, list) {
    var tab = list.dataset.tab, st = li.dataset.status, wanted = list.dataset.status;
    if (tab === "mine") {
      if (li.dataset.assigned !== me() || st !== (wanted || "assigned")) { return false; }
    } else if (tab === "queue") {
      if (queueStatuses().indexOf(st) < 0) { return false; }  // the server's rule (conversations.QUEUE_STATUSES)
      if (wanted && st !== wanted) { return false; }
      var everyDepartment = inbox().dataset.role !== "agent";  // supervisors' queue is every department's
      if (!everyDepartment && li.dataset.department && myDepartments().indexOf(li.dataset.department) < 0) { return false; }
    } else if (tab === "bot") {
      if (st !== "bot") { return false; }
    } else if (wanted ? st !== wanted : st === "resolved") { return false; }
    if (list.dataset.department && li.dataset.department !== list.dataset.department) { return false; }
    if (list.dataset.channel && li.dataset.channel !== list.dataset.channel) { return false; }
    return true;
  }
  function placeRow(list, li) {
    var at = li.dataset.at || "";
    var rows = $$(".inbox-row", list);
    for (var n = 0; n < rows.length; n++) {
      if (rows[n] !== li && (rows[n].dataset.at || "") < at) { list.insertBefore(li, rows[n]); return; }
    }
    var more = $(".inbox-more", list);
    if (more) { list.insertBefore(li, more); } else { list.appendChild(li); }
  }
  function onRow(html) {
    var list = $("#inbox-rows"); var li = parse(html); if (!list || !li) { return; }
    var id = li.dataset.id, old = document.getElementById(li.id);
    var isMine = li.dataset.assigned === me() && li.dataset.status === "assigned";
    var open = openId() === id;
    var unread = Number(li.dataset.unread) || 0;
    if (open) {
      li.dataset.unread = "0"; li.classList.remove("has-unread");
      var badge = $(".unread", li); if (badge) { badge.hidden = true; }
      var link = $(".inbox-row-link", li); if (link) { link.setAttribute("aria-current", "true"); }
      if (isMine && unread > 0) { scheduleRead(id); }
      var pane = $("#inbox-pane");
      var state = li.dataset.status + ":" + li.dataset.assigned + ":" + li.dataset.department;
      if (pane && pane.dataset.state && pane.dataset.state !== state) { reloadPane(id); }
    }
    if (isMine) { mine[id] = open ? 0 : (Number(li.dataset.unread) || 0); } else { delete mine[id]; }
    if (inMyQueue(li)) { queued[id] = true; } else { delete queued[id]; }
    updateTitle();
    var fits = matches(li, list);
    // A search's or a label's result set only changes on request (a row does not say its labels' ids).
    if (fits && (list.dataset.q || list.dataset.label) && !old) { fits = false; }
    if (!fits) { if (old) { old.remove(); } return; }
    if (old) { old.replaceWith(li); } else { li.classList.add("is-new"); }
    placeRow(list, li);
    htmx.process(li);
    refreshTimes(li);
    var empty = $("#inbox-empty"); if (empty) { empty.remove(); }
  }
  function onGone(data) {
    var parts = String(data).trim().split(/\s+/), id = parts[0], why = parts[1] || "transferred";
    var row = document.getElementById("inbox-row-" + id); if (row) { row.remove(); }
    delete mine[id]; delete queued[id]; updateTitle();
    if (openId() === id) {
      var pane = $("#inbox-pane"), tpl = $("#inbox-gone-template");
      if (pane && tpl) {
        var empty = tpl.content.firstElementChild.cloneNode(true);
        var reasons = $$("[data-reason]", empty), known = reasons.some(function (p) { return p.dataset.reason === why; });
        reasons.forEach(function (p) { p.hidden = p.dataset.reason !== (known ? why : "transferred"); });
        pane.replaceWith(empty); setOpen("");
      }
    }
  }
  function scheduleRead(id) {
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      fetch("/inbox/" + id + "/read", { method: "POST", headers: { "x-csrftoken": csrf() }, credentials: "same-origin" });
    }, 400);
  }

  // The thread ----------------------------------------------------------------------------------
  function thread() { return $(".inbox-thread#thread-" + openId()); }
  function nearBottom(t) { return t.scrollHeight - t.scrollTop - t.clientHeight < 120; }
  function toBottom(t) { if (t) { t.scrollTop = t.scrollHeight; } }
  function upsertBubble(html, temp) {
    var t = thread(); var el = parse(html); if (!t || !el || !el.id) { return; }
    var stick = nearBottom(t);
    var old = document.getElementById(el.id);
    if (temp && temp.parentNode) {
      if (old && old !== temp) { temp.remove(); } else { temp.replaceWith(el); old = null; stick = true; }
    }
    if (old) { old.replaceWith(el); } else if (!el.isConnected) { placeBubble(t, el); }
    htmx.process(el);
    if (stick) { toBottom(t); }
  }
  // A new bubble goes where its time puts it: after the last item written no later than it (a
  // message recovered from the provider's history is older than what came since), else before
  // the first dated item (below "older messages"), else at the end. Undated items (a message
  // still being sent) are passed over. ISO times of one zone compare as strings.
  function placeBubble(t, el) {
    var at = el.dataset.at || "", items = t.children;
    if (at) {
      for (var n = items.length - 1; n >= 0; n--) {
        var other = items[n].dataset.at;
        if (other && other <= at) { t.insertBefore(el, items[n].nextSibling); return; }
      }
      for (var k = 0; k < items.length; k++) {
        if (items[k].dataset.at) { t.insertBefore(el, items[k]); return; }
      }
    }
    t.appendChild(el);
  }
  function reloadPane(id) {
    if (!window.htmx) { return; }
    htmx.ajax("GET", "/inbox/" + id + "/pane", { target: "#inbox-pane", swap: "outerHTML" });
  }

  // A pane on its way: the server has read its thread, but until it is swapped in nothing
  // listens to its conversation's bubbles. A listener is added when the request leaves and
  // what it hears is applied once the pane is in (bubbles are upserted by id: harmless twice).
  var opening = { id: "", bubbles: [], listener: null };
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var path = (evt.detail.requestConfig && evt.detail.requestConfig.path) || "";
    var m = /^\/inbox\/(\d+)\/pane/.exec(path);
    if (!m || !window.htmx) { return; }
    stopOpening();
    var el = document.createElement("div");
    el.hidden = true; el.className = "thread-prelistener";
    el.setAttribute("sse-swap", "thread-" + m[1]); el.setAttribute("hx-swap", "none");
    document.body.appendChild(el); htmx.process(el);
    opening = { id: m[1], bubbles: [], listener: el };
  });
  function stopOpening() {
    if (opening.listener) { opening.listener.remove(); }
    opening = { id: "", bubbles: [], listener: null };
  }
  function openedPane(id) {
    if (opening.id !== id) { return; }
    var heard = opening.bubbles; stopOpening();
    heard.forEach(function (html) { upsertBubble(html); });
  }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var type = evt.detail && evt.detail.type; if (!type) { return; }
    if (type === "inbox-row") { evt.preventDefault(); onRow(evt.detail.data); return; }
    if (type === "inbox-gone") { evt.preventDefault(); onGone(evt.detail.data); return; }
    if (type.indexOf("thread-") === 0) {
      evt.preventDefault();
      if (opening.id && type === "thread-" + opening.id && evt.target === opening.listener) {
        if (opening.bubbles.length < 200) { opening.bubbles.push(evt.detail.data); }
        return;
      }
      if (evt.target && evt.target.classList && evt.target.classList.contains("thread-prelistener")) { return; }
      if (type === "thread-" + openId()) {
        upsertBubble(evt.detail.data);
        if (/^\s*<li[^>]*\bmsg-in\b/.test(String(evt.detail.data || ""))) { customerTyping("paused"); }  // they sent it
      }
      return;
    }
    if (type.indexOf("typing-") === 0) {
      evt.preventDefault();
      if (type === "typing-" + openId()) { customerTyping(String(evt.detail.data || "").trim()); }
    }
  });

  // Typing indicators ----------------------------------------------------------------------------
  // The customer's: "<name> is typing…" under the thread until "paused", their message, or
  // HINT_FOR ms without renewal (providers repeat it while they type).
  var HINT_FOR = 8000, hintTimer = null;
  function customerTyping(state) {
    var hint = $("#typing-hint"); if (!hint) { return; }
    clearTimeout(hintTimer);
    var text = state === "typing" ? hint.dataset.textTyping : state === "recording" ? hint.dataset.textRecording : "";
    hint.textContent = text || "";
    hint.classList.toggle("is-on", !!text);
    if (text) { hintTimer = setTimeout(function () { customerTyping("paused"); }, HINT_FOR); }
  }
  // The agent's: one request per SEND_EVERY ms while they type, "paused" after IDLE_AFTER ms
  // without a key, on sending, or on leaving the conversation (when the provider can take it back).
  var SEND_EVERY = 4000, IDLE_AFTER = 5000;
  var typingConv = "", typingStops = false, typingAt = 0, typingIdle = null;
  function postTyping(id, state) {
    fetch("/inbox/" + id + "/typing", { method: "POST", credentials: "same-origin", headers: { "x-csrftoken": csrf() },
      body: new URLSearchParams({ state: state }) }).catch(function () { /* an indicator is a nicety */ });
  }
  function agentTyped(area) {
    var form = area.form; if (!form || !form.dataset.typing) { return; }
    if (!area.value.trim()) { agentStopped(); return; }
    var id = form.dataset.conversation, now = Date.now();
    if (typingConv && typingConv !== id) { agentStopped(); }
    if (typingConv !== id || now - typingAt >= SEND_EVERY) {
      typingConv = id; typingStops = !!form.dataset.typingStops; typingAt = now; postTyping(id, "typing");
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(agentStopped, IDLE_AFTER);
  }
  function agentStopped() {
    clearTimeout(typingIdle);
    if (!typingConv) { return; }
    var id = typingConv;
    typingConv = ""; typingAt = 0;
    if (typingStops) { postTyping(id, "paused"); }
  }

  // The pane ------------------------------------------------------------------------------------
  function setOpen(id) {
    var i = inbox(); if (!i) { return; }
    i.dataset.open = id; i.classList.toggle("has-open", !!id);
    $$(".inbox-row-link[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
    var row = id && document.getElementById("inbox-row-" + id);
    if (row) {
      $(".inbox-row-link", row).setAttribute("aria-current", "true");
      row.classList.remove("has-unread"); row.dataset.unread = "0";
      var badge = $(".unread", row); if (badge) { badge.hidden = true; }
    }
    if (id && mine[id] !== undefined) { mine[id] = 0; updateTitle(); }
  }
  function draftKey(id, kind) { return "sb-draft-" + kind + "-" + id; }
  function initPane() {
    var pane = $("#inbox-pane");
    if (!pane || pane === paneEl) { return; }
    paneEl = pane;
    var id = pane.dataset.conversation || "";
    if (typingConv && typingConv !== id) { agentStopped(); }
    customerTyping("paused");
    setOpen(id);
    if (!id) { stopOpening(); return; }
    openedPane(id);
    loadReplyVars(id);
    var t = thread(); toBottom(t);
    refreshTimes(pane);
    var text = $("#composer-text"), note = $("#note-text");
    try {
      if (text && !text.value) { text.value = sessionStorage.getItem(draftKey(id, "reply")) || ""; }
      if (note && !note.value) { note.value = sessionStorage.getItem(draftKey(id, "note")) || ""; }
    } catch (e) { /* private mode */ }
    count();
  }
  document.addEventListener("htmx:afterSettle", function () { initPane(); });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    // (Errors retargeted to #toasts are shown by app.js, on every page.)
    // The customer form's field errors (400) are re-rendered in place.
    if (xhr && xhr.status === 400 && evt.detail.target && evt.detail.target.id === "customer-panel") { evt.detail.shouldSwap = true; evt.detail.isError = false; }
    // Older messages: keep the reader's place while they are prepended.
    var target = evt.detail.target;
    if (target && target.classList && target.classList.contains("thread-more")) {
      var t = target.parentNode; t.dataset.fromBottom = String(t.scrollHeight - t.scrollTop);
    }
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var t = thread();
    if (t && t.dataset.fromBottom) { t.scrollTop = t.scrollHeight - Number(t.dataset.fromBottom); delete t.dataset.fromBottom; }
    if (evt.detail.target && evt.detail.target.id === "main") { paneEl = null; loadMine(); initPane(); refreshTimes(); }
    if (evt.detail.target && evt.detail.target.id === "inbox-rows") { refreshTimes(); }
  });

  // The composer ---------------------------------------------------------------------------------
  // Quick replies' variables ({customer_name}, {order_number} …) for the open conversation,
  // fetched when its pane opens; a reply is inserted filled in, for the agent to read (and edit)
  // before sending. A variable without a value stays as written.
  var replyVars = {};
  function loadReplyVars(id) {
    if (!id || replyVars[id]) { return; }
    replyVars[id] = {};
    fetch("/inbox/" + id + "/reply-variables", { credentials: "same-origin", headers: { "accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (values) { replyVars[id] = values || {}; })
      .catch(function () { delete replyVars[id]; });
  }
  function fillVars(text) {
    var values = replyVars[openId()] || {};
    return String(text || "").replace(/\{([a-z_]+)\}/g, function (all, name) { return values[name] ? values[name] : all; });
  }
  function quickReplies() {
    var data = $("#composer .qr-data"); if (!data) { return []; }
    try { return JSON.parse(data.getAttribute("data-json") || "[]"); } catch (e) { return []; }
  }
  function count() {
    var text = $("#composer-text"), out = $("#composer-count"), form = $("#composer");
    if (!text || !out || !form) { return; }
    var limit = Number(form.dataset.limit) || 4096, n = text.value.length;
    out.textContent = n + " / " + limit; out.classList.toggle("over", n > limit);
  }
  function insertText(area, value, from, to) {
    var start = from === undefined ? area.selectionStart : from, end = to === undefined ? area.selectionEnd : to;
    area.value = area.value.slice(0, start) + value + area.value.slice(end);
    var caret = start + value.length; area.focus(); area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }
  var suggest = { items: [], index: 0, from: 0 };
  function closeSuggest() { var box = $("#qr-suggest"); if (box) { box.hidden = true; box.innerHTML = ""; } suggest.items = []; }
  function showSuggest(area) {
    var box = $("#qr-suggest"); if (!box) { return; }
    var before = area.value.slice(0, area.selectionStart);
    var m = /(^|\s)\/([\w-]*)$/.exec(before);
    if (!m) { closeSuggest(); return; }
    var term = m[2].toLowerCase();
    suggest.from = area.selectionStart - m[2].length - 1;
    suggest.items = quickReplies().filter(function (q) { return q.shortcut.toLowerCase().indexOf(term) === 0; }).slice(0, 8);
    suggest.index = 0;
    if (!suggest.items.length) { closeSuggest(); return; }
    box.innerHTML = "";
    suggest.items.forEach(function (q, n) {
      var li = document.createElement("li");
      li.setAttribute("role", "option"); li.id = "qr-option-" + n;
      li.setAttribute("aria-selected", n === 0 ? "true" : "false");
      var code = document.createElement("code"); code.textContent = "/" + q.shortcut;
      li.appendChild(code); li.appendChild(document.createTextNode(" " + fillVars(q.text).slice(0, 80)));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(area, n); });
      box.appendChild(li);
    });
    box.hidden = false;
    area.setAttribute("aria-activedescendant", "qr-option-0");
  }
  function pick(area, n) {
    var q = suggest.items[n]; if (!q) { return; }
    closeSuggest(); insertText(area, fillVars(q.text), suggest.from, area.selectionStart);
  }
  function moveSuggest(area, step) {
    var box = $("#qr-suggest"); var opts = $$("li", box);
    suggest.index = (suggest.index + step + opts.length) % opts.length;
    opts.forEach(function (o, n) { o.setAttribute("aria-selected", n === suggest.index ? "true" : "false"); });
    area.setAttribute("aria-activedescendant", "qr-option-" + suggest.index);
  }
  document.addEventListener("input", function (evt) {
    var t = evt.target;
    if (t.id === "composer-text") {
      count(); showSuggest(t); agentTyped(t);
      try { sessionStorage.setItem(draftKey(openId(), "reply"), t.value); } catch (e) { /* ignore */ }
    } else if (t.id === "note-text") {
      try { sessionStorage.setItem(draftKey(openId(), "note"), t.value); } catch (e) { /* ignore */ }
    }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.classList && evt.target.classList.contains("attach-input")) {
      var label = $(".attach-name"); var f = evt.target.files && evt.target.files[0];
      if (label) { label.textContent = f ? f.name : ""; }
    }
  });
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    if (t.id === "composer-text" || t.id === "note-text") {
      var box = $("#qr-suggest");
      if (t.id === "composer-text" && box && !box.hidden && suggest.items.length) {
        if (evt.key === "ArrowDown") { evt.preventDefault(); moveSuggest(t, 1); return; }
        if (evt.key === "ArrowUp") { evt.preventDefault(); moveSuggest(t, -1); return; }
        if (evt.key === "Enter" || evt.key === "Tab") { evt.preventDefault(); pick(t, suggest.index); return; }
        if (evt.key === "Escape") { evt.preventDefault(); closeSuggest(); return; }
      }
      if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
        evt.preventDefault();
        var form = t.form, file = form && $(".attach-input", form);
        if (t.value.trim() || (file && file.files && file.files.length) || (form && $(".template-fields input", form))) {
          form.requestSubmit();
        }
        return;
      }
    }
    shortcut(evt);
  });
  document.addEventListener("click", function (evt) {
    var item = evt.target.closest && evt.target.closest(".qr-item");
    if (item) {
      var area = $("#composer-text"); if (!area) { return; }
      insertText(area, fillVars(item.dataset.text || ""));
      var d = item.closest("details"); if (d) { d.open = false; }
      return;
    }
    var mode = evt.target.closest && evt.target.closest(".composer-modes .mode");
    if (mode) { setMode(mode.dataset.mode); }
  });
  function setMode(mode) {
    var reply = $("#composer"), note = $("#note-form"); if (!note) { return; }
    if (mode === "reply" && !reply) { return; }
    $$(".composer-modes .mode").forEach(function (b) { b.setAttribute("aria-pressed", b.dataset.mode === mode ? "true" : "false"); });
    if (reply) { reply.hidden = mode !== "reply"; }
    note.hidden = mode !== "note";
    var focus = mode === "note" ? $("#note-text") : $("#composer-text"); if (focus) { focus.focus(); }
  }

  // Sending: the message appears at once, then is confirmed (or marked failed) by the answer
  // and by the live status events.
  var tempSeq = 0;
  document.addEventListener("htmx:beforeSend", function (evt) {
    var form = evt.detail.elt;
    if (!form || (form.id !== "composer" && form.id !== "note-form")) { return; }
    var area = $("textarea[name=text]", form), t = thread(); if (!t) { return; }
    var file = $(".attach-input", form), fileName = file && file.files && file.files[0] ? file.files[0].name : "";
    var li = document.createElement("li");
    li.id = "temp-" + (++tempSeq);
    li.className = form.id === "composer" ? "msg msg-out msg-pending msg-by-agent is-temp" : "note is-temp";
    var p = document.createElement("p"); p.className = "msg-text";
    p.textContent = (fileName ? "📎 " + fileName + (area.value ? "\n" : "") : "") + area.value;
    li.appendChild(p);
    var meta = document.createElement("span"); meta.className = "msg-meta"; meta.textContent = "🕓"; li.appendChild(meta);
    t.appendChild(li); toBottom(t);
    form.dataset.temp = li.id; form.dataset.sent = area.value;
    if (form.id === "composer") { agentStopped(); }
    // The request body is built: the composer is free for the next message at once.
    area.value = ""; count(); closeSuggest();
    if (file) { file.value = ""; }
    var label = $(".attach-name", form); if (label) { label.textContent = ""; }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt;
    if (!form || (form.id !== "composer" && form.id !== "note-form")) { return; }
    var temp = form.dataset.temp && document.getElementById(form.dataset.temp);
    var area = $("textarea[name=text]", form), xhr = evt.detail.xhr;
    if (evt.detail.successful) {
      upsertBubble(xhr.responseText, temp);
      try { sessionStorage.removeItem(draftKey(openId(), form.id === "composer" ? "reply" : "note")); } catch (e) { /* ignore */ }
      $$(".template-fields input, .template-fields textarea", form).forEach(function (i) { if (i.name !== "template_language") { i.value = ""; } });
    } else {
      if (temp) {
        temp.classList.remove("msg-pending", "is-temp"); temp.classList.add("msg-failed");
        var why = document.createElement("span"); why.className = "msg-error";
        var toast = parse(xhr && xhr.responseText); why.textContent = toast ? toast.textContent.trim() : "";
        temp.appendChild(why);
        setTimeout(function () { if (temp.parentNode) { temp.remove(); } }, 8000);
      }
      if (area && !area.value) { area.value = form.dataset.sent || ""; count(); }
    }
  });

  // Keyboard shortcuts --------------------------------------------------------------------------
  function typing(el) { return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)); }
  function step(n) {
    var links = $$(".inbox-row .inbox-row-link"); if (!links.length) { return; }
    var open = openId(), index = -1;
    links.forEach(function (a, i) { if (a.closest(".inbox-row").dataset.id === open) { index = i; } });
    var next = links[Math.min(links.length - 1, Math.max(0, index + n))];
    if (next) { next.focus(); next.click(); }
  }
  function shortcut(evt) {
    if (!inbox()) { return; }
    if (evt.altKey && (evt.key === "ArrowDown" || evt.key === "ArrowUp")) { evt.preventDefault(); step(evt.key === "ArrowDown" ? 1 : -1); return; }
    if (evt.key === "Escape" && typing(evt.target)) { evt.target.blur(); return; }
    if (typing(evt.target) || evt.ctrlKey || evt.metaKey || evt.altKey) { return; }
    var k = evt.key;
    if (k === "j") { evt.preventDefault(); step(1); }
    else if (k === "k") { evt.preventDefault(); step(-1); }
    else if (k === "r") { evt.preventDefault(); setMode("reply"); }
    else if (k === "n") { evt.preventDefault(); setMode("note"); }
    else if (k === "e") { var b = $("#action-resolve"); if (b) { evt.preventDefault(); b.click(); } }
    else if (k === "/") { var s = $("#inbox-search"); if (s) { evt.preventDefault(); s.focus(); } }
    else if (k === "l") { var l = $(".label-add select"); if (l) { evt.preventDefault(); l.focus(); } }
  }

  // Start ---------------------------------------------------------------------------------------
  function start() {
    if (!inbox()) { return; }
    topbarHeight(); loadMine(); initPane(); refreshTimes();
    window.addEventListener("resize", topbarHeight);
    setInterval(function () { refreshTimes(); }, 15000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
