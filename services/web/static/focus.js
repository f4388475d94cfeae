// Move focus to the error summary, so that a screen reader reads why a step was refused.
"use strict";
(function () {
  var summary = document.querySelector("[data-autofocus]");
  if (summary) { summary.focus(); }
})();
