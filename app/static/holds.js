// Keyboard shortcuts of the finance queue and invoice pages (each page lists its own).
// Queue: j / k next / previous row · Enter open it · x tick it · r release · a assign to me.
// Invoice: j / k next / previous invoice in the queue (same filters) · u back to the queue ·
// r go to the next open hold's reason · a assign to me. Both: ? show or hide the list.
(function () {
  "use strict";

  var queue = document.getElementById("bulk");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".queue-row"));
  var current = -1;
  var help = document.getElementById("shortcuts-help");

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function go(id) {
    var link = document.getElementById(id);
    if (link) { window.location = link.href; }
  }

  // -- the queue -----------------------------------------------------------------------------

  function focusRow(index) {
    if (!rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("focused"); }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("focused");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function ticked() {
    return queue.querySelectorAll(".queue-row input[type=checkbox]:checked").length > 0;
  }

  // With nothing ticked, r and a act on the focused row: tick it, so the bulk form carries it.
  function chosen() {
    if (ticked()) { return true; }
    if (current < 0) { return false; }
    rows[current].querySelector("input[type=checkbox]").checked = true;
    return true;
  }

  function queueKey(key) {
    switch (key) {
      case "j": focusRow(current + 1); return true;
      case "k": focusRow(current - 1); return true;
      case "Enter":
        if (current < 0 || !rows[current].dataset.href) { return false; }
        window.location = rows[current].dataset.href;
        return true;
      case "x":
        if (current < 0) { return false; }
        var box = rows[current].querySelector("input[type=checkbox]");
        box.checked = !box.checked;
        return true;
      case "r":
        if (!chosen()) { return false; }
        queue.querySelector("textarea[name=reason]").focus();
        return true;
      case "a":
        if (!chosen()) { return false; }
        queue.querySelector("select[name=assignee]").value = "me";
        queue.requestSubmit(queue.querySelector("button[value=assign]"));
        return true;
    }
    return false;
  }

  // -- one invoice ---------------------------------------------------------------------------

  var reasons = Array.prototype.slice.call(document.querySelectorAll(".release-form textarea"));
  var reason = -1;

  function invoiceKey(key) {
    switch (key) {
      case "j": go("next-invoice"); return true;
      case "k": go("previous-invoice"); return true;
      case "u": go("back-to-queue"); return true;
      case "r":
        if (!reasons.length) { return false; }
        reason = (reason + 1) % reasons.length;
        reasons[reason].focus();
        reasons[reason].closest("tr").scrollIntoView({ block: "nearest" });
        return true;
      case "a":
        var single = document.getElementById("assign-form");
        if (!single) { return false; }
        single.querySelector("select[name=assignee]").value = "me";
        single.requestSubmit();
        return true;
    }
    return false;
  }

  // In a release reason, Enter sends the form (Shift+Enter for a new line).
  reasons.forEach(function (box) {
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && box.value.trim()) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
  });

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
    var done;
    if (event.key === "?") {
      if (help) { help.hidden = !help.hidden; }
      done = true;
    } else {
      done = queue ? queueKey(event.key) : invoiceKey(event.key);
    }
    if (done) { event.preventDefault(); }
  });
}());
