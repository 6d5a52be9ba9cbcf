// The segment builder: show each row's inputs for its kind, add and remove rows, switch to JSON.
(function () {
  "use strict";
  var form = document.getElementById("builder");
  if (!form) return;
  var rows = document.getElementById("rows");
  var template = document.getElementById("row-template");

  function showParams(row) {
    var kind = row.querySelector("select.kind").value;
    row.querySelectorAll("[data-for]").forEach(function (el) {
      var on = el.dataset.for.split(" ").indexOf(kind) >= 0;
      el.style.display = on ? "inline-block" : "none";
      el.querySelectorAll("input, select").forEach(function (input) { input.disabled = !on; });
      if (el.matches("input, select")) el.disabled = !on;
    });
  }
  function changed() { form.dispatchEvent(new Event("rows-changed")); }
  function nextIndex() {
    var used = Array.prototype.map.call(rows.querySelectorAll("[data-row]"), function (r) { return +r.dataset.row; });
    return used.length ? Math.max.apply(null, used) + 1 : 0;
  }
  rows.querySelectorAll("[data-row]").forEach(showParams);
  rows.addEventListener("change", function (e) {
    if (e.target.matches("select.kind")) showParams(e.target.closest("[data-row]"));
  });
  rows.addEventListener("click", function (e) {
    if (e.target.matches(".remove-row")) { e.target.closest("[data-row]").remove(); changed(); }
  });
  document.getElementById("add-row").addEventListener("click", function () {
    var n = nextIndex();
    if (n >= 20) return;
    var html = template.innerHTML.replace(/__n__/g, String(n));
    rows.insertAdjacentHTML("beforeend", html);
    var row = rows.lastElementChild;
    showParams(row);
    row.querySelector("select.kind").focus();
    changed();
  });
  document.getElementById("to-json").addEventListener("click", function () {
    // The preview holds the filter the rows make now (the server built it): start the editor from it.
    var current = document.getElementById("preview-json");
    if (current) form.querySelector("textarea[name=json]").value = current.value;
    document.getElementById("mode").value = "json";
    document.getElementById("rows-editor").hidden = true;
    document.getElementById("json-editor").hidden = false;
    changed();
  });
})();
