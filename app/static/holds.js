// Keyboard shortcuts of the finance queue and invoice pages (listed on each page).
// j / k: next / previous row · Enter: open it · r: release · a: assign to me · ?: help.
(function () {
  "use strict";

  var rows = Array.prototype.slice.call(document.querySelectorAll(".queue-row, .hold-row"));
  var current = -1;
  var help = document.getElementById("shortcuts-help");

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function focusRow(index) {
    if (!rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("focused"); }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("focused");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function release() {
    var row = current >= 0 ? rows[current] : null;
    var reason = row && row.querySelector(".release-form textarea");
    if (!reason) { reason = document.querySelector(".release-form textarea"); }
    if (!reason && document.querySelector(".queue-row input[type=checkbox]:checked")) {
      reason = document.querySelector("#bulk textarea[name=reason]");
    }
    if (reason) { reason.focus(); }
  }

  function assignToMe() {
    var single = document.getElementById("assign-form");
    var bulk = document.getElementById("bulk");
    if (single) {
      single.querySelector("select[name=assignee]").value = "me";
      single.requestSubmit();
    } else if (bulk && current >= 0) {
      rows[current].querySelector("input[type=checkbox]").checked = true;
      bulk.querySelector("select[name=assignee]").value = "me";
      bulk.requestSubmit(bulk.querySelector("button[value=assign]"));
    }
  }

  // The queue's matching figures come after its rows, from their own URL.
  var kpis = document.querySelector("#kpis[data-src]");
  if (kpis && window.fetch) {
    fetch(kpis.dataset.src, { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) { if (html) { kpis.innerHTML = html; } })
      .catch(function () { /* the links to the figures stay */ });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    switch (event.key) {
      case "j": focusRow(current + 1); break;
      case "k": focusRow(current - 1); break;
      case "Enter":
        if (current >= 0 && rows[current].dataset.href) { window.location = rows[current].dataset.href; }
        else { return; }
        break;
      case "r": release(); break;
      case "a": assignToMe(); break;
      case "?": if (help) { help.hidden = !help.hidden; } break;
      default: return;
    }
    event.preventDefault();
  });
}());
