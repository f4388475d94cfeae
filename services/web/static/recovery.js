// The recovery code's copy and print buttons: shown only where scripts run (the download link
// and the code itself work without); a copy is announced to screen readers.
"use strict";
(function () {
  var announce = document.getElementById("recovery-announce");
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (announce) { announce.textContent = announce.getAttribute("data-copied"); }
      });
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
