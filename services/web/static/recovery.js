// Copy and print buttons (the recovery code, the authenticator's key): shown only where scripts
// run (the text itself and the download link work without); a copy is announced to screen
// readers. A ``data-value`` is copied rather than the text shown (a key shown in groups).
"use strict";
(function () {
  var announce = document.getElementById("recovery-announce");
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var value = source.getAttribute("data-value") || source.textContent.trim();
      navigator.clipboard.writeText(value).then(function () {
        if (announce) { announce.textContent = announce.getAttribute("data-copied"); }
      });
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
