// Conversation threads (conversation page, simulator): a message's new status replaces its
// bubble. Status events name the conversation, not the message, so that a status arriving right
// after its message (before htmx has processed the new bubble) is never dropped.
(function () {
  "use strict";
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var type = evt.detail && evt.detail.type;
    if (!type || type.indexOf("message-status-") !== 0) { return; }
    evt.preventDefault();
    var tpl = document.createElement("template");
    tpl.innerHTML = String(evt.detail.data || "").trim();
    var fresh = tpl.content.firstElementChild;
    var old = fresh && document.getElementById(fresh.id);
    if (old) {
      old.replaceWith(fresh);
      if (window.htmx) { htmx.process(fresh); }
    }
  });
})();

// A composer form marked data-reset-on-success is emptied once htmx sent it successfully (no
// hx-on attributes: the Content-Security-Policy forbids inline code).
document.addEventListener("htmx:afterRequest", function (evt) {
  var form = evt.detail && evt.detail.elt;
  if (form && form.matches && form.matches("form[data-reset-on-success]") && evt.detail.successful) { form.reset(); }
});
