// Behaviour that used to be inline (onsubmit="…"): the Content Security
// Policy forbids inline handlers, so forms ask for confirmation through a
// data-confirm attribute handled here, for forms htmx swaps in later too.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute && form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Expiry countdowns: an element with data-countdown="<ISO time>" reads
// "expires in 2 d 5 h" and counts down every 30 seconds (the server renders
// the first value, so without JavaScript the page still says it).
(function () {
  function left(ms) {
    var minutes = Math.floor(ms / 60000);
    if (minutes < 60) { return Math.max(minutes, 1) + " min"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 24) { return hours + " h " + (minutes % 60) + " min"; }
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(at)) { return; }
      el.textContent = at > now ? "expires in " + left(at - now) : "expired, deleting";
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 30000);
})();
