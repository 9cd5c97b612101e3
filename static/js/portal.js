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
