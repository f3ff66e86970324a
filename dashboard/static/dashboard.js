// Clickloop dashboard: range presets and charts (Chart.js, served by the dashboard itself).
(function () {
  "use strict";
  var form = document.getElementById("range");
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-days]"), function (button) {
      button.addEventListener("click", function () {
        var end = document.getElementById("end").value;
        var days = parseInt(button.getAttribute("data-days"), 10);
        var last = new Date(end + "T00:00:00Z");
        var first = new Date(last.getTime() - (days - 1) * 86400000);
        document.getElementById("start").value = first.toISOString().slice(0, 10);
        form.submit();
      });
    });
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      select.addEventListener("change", function () { form.submit(); });
    });
  }
  var data = document.getElementById("chart-data");
  if (!data || typeof window.Chart === "undefined") { return; }
  var charts = JSON.parse(data.textContent);
  var palette = ["#3b6fd8", "#e8833a", "#2f9e6e", "#b23b8c", "#7a7a7a"];
  var seen = {};
  charts.forEach(function (spec) {
    var index = seen[spec.table] || 0;
    seen[spec.table] = index + 1;
    var canvas = document.querySelector('canvas[data-chart="' + spec.table + "-" + (index + 1) + '"]');
    if (!canvas) { return; }
    new window.Chart(canvas, {
      type: spec.kind === "bar" ? "bar" : "line",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { label: s.name, data: s.values, borderColor: palette[i % palette.length],
                   backgroundColor: palette[i % palette.length], tension: 0, pointRadius: 2 };
        })
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 indexAxis: spec.kind === "bar" ? "y" : "x" }
    });
    canvas.setAttribute("data-drawn", "true");
  });
})();
