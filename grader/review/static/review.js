// Keyboard navigation for the review pages (documented on the batch page): no build step, no library.
"use strict";
(function () {
  function typing(e) {
    const t = e.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT", "BUTTON"].includes(t.tagName));
  }
  function go(id) {
    const a = document.getElementById(id);
    if (a) { window.location.href = a.href; }
  }
  const rows = Array.from(document.querySelectorAll("#batch tbody tr[data-href]"));
  let at = rows.length ? 0 : -1;
  function select(i) {
    if (!rows.length) { return; }
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("selected", j === at); });
    rows[at].scrollIntoView({block: "nearest"});
  }
  if (rows.length) { select(0); }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    const key = e.key;
    if (rows.length) {
      if (key === "j" || key === "n") { select(at + 1); }
      else if (key === "k" || key === "p") { select(at - 1); }
      else if (key === "Enter" || key === "o") { window.location.href = rows[at].dataset.href; }
      else { return; }
    } else {
      if (key === "j" || key === "n") { go("next"); }
      else if (key === "k" || key === "p") { go("previous"); }
      else if (key === "b") { go("back"); }
      else if (key === "r") {
        const b = document.getElementById("mark-reviewed-next") || document.getElementById("mark-reviewed");
        if (b) { b.click(); } else { return; }
      }
      else { return; }
    }
    e.preventDefault();
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
