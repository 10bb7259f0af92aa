// The web UI's only script, served as /static/app.js so that the Content-Security-Policy
// allows no inline script. Every page works without it; it only improves two things.
(function () {
  "use strict";

  // Countdowns tick without reloading; the server-rendered text is right without this.
  function left(ms) {
    if (ms <= 0) return "expired";
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
      m = Math.floor(s % 3600 / 60);
    if (d > 0) return "in " + d + "d " + h + "h";
    if (h > 0) return "in " + h + "h " + m + "m";
    if (m > 0) return "in " + m + "m " + (s % 60) + "s";
    return "in " + s + "s";
  }
  function tick() {
    document.querySelectorAll("[data-until]").forEach(function (e) {
      e.textContent = left(Date.parse(e.getAttribute("data-until")) - Date.now());
    });
  }
  setInterval(tick, 1000);

  // The switchers act on choosing; without script their noscript buttons do.
  var ws = document.getElementById("ws-switch");
  if (ws) {
    ws.addEventListener("change", function () {
      if (ws.value) location.href = "/w/" + encodeURIComponent(ws.value);
    });
  }
  var account = document.getElementById("as-switch");
  if (account) {
    account.addEventListener("change", function () {
      account.form.submit();
    });
  }

  // The request form shows the emergency checkbox only for the roles that allow it; without
  // script the page shows it for the role first selected, and the server refuses emergency
  // requests the entitlement forbids.
  var select = document.getElementById("request-target"), box = document.getElementById("emergency-box");
  if (select && box) {
    var allowed = box.getAttribute("data-allowed").split(",");
    var update = function () {
      var on = allowed.indexOf(select.value) >= 0;
      box.hidden = !on;
      document.getElementById("emergency-hint").hidden = !on;
      if (!on) document.getElementById("request-emergency").checked = false;
    };
    select.addEventListener("change", update);
    update();
  }
})();
