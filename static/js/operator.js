// Operator console: running call and wait timers (the server sends start times, not ticks).
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now() / 1000;
    var timers = document.querySelectorAll("time.timer[data-since]");
    for (var i = 0; i < timers.length; i++) {
      var s = Math.max(0, Math.floor(now - parseFloat(timers[i].dataset.since)));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      timers[i].textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
    }
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
