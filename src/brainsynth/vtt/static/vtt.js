// Keyboard shortcuts R / S for the two answer buttons, and one submission per page.
(function () {
  "use strict";
  var form = document.getElementById("answer-form");
  if (!form) { return; }
  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    form.classList.add("sent");
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) { return; }
    var key = (event.key || "").toLowerCase();
    var button = form.querySelector('button[data-key="' + key + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
  document.documentElement.setAttribute("data-keys", "ready");
})();
