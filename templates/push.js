// The push waiting page: counts down and long-polls the push's state; when
// it changes, the page moves on (the 2fa page finishes or explains).
(function () {
  var state = document.getElementById("push-state");
  var left = document.getElementById("push-left");
  if (!state) return;
  var seconds = parseInt(state.getAttribute("data-left"), 10) || 0;
  var next = state.getAttribute("data-next");
  var url = state.getAttribute("data-status") + "?wait=1";
  setInterval(function () {
    if (seconds > 0) seconds -= 1;
    if (left) left.textContent = Math.floor(seconds / 60) + ":" + ("0" + (seconds % 60)).slice(-2);
    if (seconds === 0) window.location.href = next;
  }, 1000);
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "waiting") { poll(); } else { window.location.href = next; }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
