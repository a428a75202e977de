// /profile: try a notification sound before choosing it (static/js/app.js plays it).
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var b = evt.target.closest && evt.target.closest(".sound-try");
    if (b && window.switchboardPlay) { window.switchboardPlay(b.dataset.sound); }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.name === "notification_sound") {
      document.body.dataset.sound = evt.target.value;
      if (window.switchboardPlay) { window.switchboardPlay(evt.target.value); }
    }
  });
})();
