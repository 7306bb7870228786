// The code page's "Send again": counts its wait down on the button, which
// stays disabled until the server would take another send.
(function () {
  var button = document.getElementById("resend");
  if (!button || !button.hasAttribute("data-wait")) return;
  var seconds = parseInt(button.getAttribute("data-wait"), 10) || 0;
  var counting = button.getAttribute("data-counting") || "";
  var ready = button.getAttribute("data-label") || button.textContent;
  function show() {
    if (seconds > 0) {
      button.disabled = true;
      button.textContent = counting.replace("{s}", String(seconds));
    } else {
      button.disabled = false;
      button.textContent = ready;
    }
  }
  show();
  var timer = setInterval(function () {
    seconds -= 1;
    show();
    if (seconds <= 0) clearInterval(timer);
  }, 1000);
})();
