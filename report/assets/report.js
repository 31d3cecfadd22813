// Sort a table by a click on its header; filter the hospital table by text and level.
(function () {
  "use strict";
  function value(cell) {
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-v");
    return raw === null ? cell.textContent.trim() : parseFloat(raw);
  }
  function compare(a, b) {
    var numeric = typeof a === "number" && typeof b === "number";
    if (numeric) { return a - b; }
    if (typeof a === "number") { return -1; }
    if (typeof b === "number") { return 1; }
    return String(a).localeCompare(String(b), "zh-CN");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (head, column) {
      head.addEventListener("click", function () {
        var ascending = head.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
        head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (x, y) {
          var order = compare(value(x.cells[column]), value(y.cells[column]));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll(".controls[data-controls]").forEach(function (controls) {
    var table = document.getElementById(controls.getAttribute("data-controls"));
    if (!table) { return; }
    var text = controls.querySelector(".filter-text");
    var level = controls.querySelector(".filter-level");
    var shown = controls.querySelector(".rows-shown");
    function apply() {
      var needle = text.value.trim().toLowerCase();
      var wanted = level.value;
      var rows = table.tBodies[0].rows;
      var visible = 0;
      for (var i = 0; i < rows.length; i += 1) {
        var row = rows[i];
        var hit = (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0) &&
                  (!wanted || row.getAttribute("data-level") === wanted);
        row.style.display = hit ? "" : "none";
        visible += hit ? 1 : 0;
      }
      shown.textContent = shown.getAttribute("data-template")
        .replace("{shown}", visible.toLocaleString()).replace("{total}", rows.length.toLocaleString());
    }
    text.addEventListener("input", apply);
    level.addEventListener("change", apply);
    apply();
  });
}());
