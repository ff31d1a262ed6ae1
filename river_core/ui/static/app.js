// River dashboard: theme, live refresh, job selection, confirmations. No inline scripts (CSP).
(function () {
  "use strict";
  var root = document.documentElement;
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  root.dataset.theme = localStorage.getItem("river-theme") || (dark ? "dark" : "light");

  function refreshMs() {
    var stored = localStorage.getItem("river-refresh-ms");
    return stored !== null ? Number(stored) : Number(document.body.dataset.refreshMs || 2000);
  }

  // Refreshing would lose what the user is doing: a selection, an open trace, selected text.
  function busy(region) {
    if (document.querySelector(".job-select:checked")) return true;
    if (region.querySelector("details[open]")) return true;
    var selection = window.getSelection && window.getSelection();
    return !!(selection && !selection.isCollapsed && region.contains(selection.anchorNode));
  }

  function tick() {
    var ms = refreshMs();
    if (ms > 0 && !document.hidden && window.htmx) {
      document.querySelectorAll("[data-refresh]").forEach(function (region) {
        if (!busy(region)) window.htmx.trigger(region, "refresh");
      });
    }
    window.setTimeout(tick, ms > 0 ? ms : 1000);
  }

  function syncControls() {
    var select = document.getElementById("refresh-interval");
    if (select) {
      var ms = String(refreshMs());
      if (!select.querySelector('option[value="' + ms + '"]')) {
        var option = document.createElement("option");
        option.value = ms;
        option.textContent = Number(ms) / 1000 + " s";
        select.appendChild(option);
      }
      select.value = ms;
    }
    syncSelection();
  }

  function syncSelection() {
    var boxes = document.querySelectorAll(".job-select");
    var checked = document.querySelectorAll(".job-select:checked").length;
    document.querySelectorAll("button.bulk").forEach(function (button) {
      button.disabled = checked === 0;
    });
    var all = document.getElementById("select-all");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    var count = document.querySelector(".selected-count");
    if (count) count.textContent = checked ? checked + " selected" : "";
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "refresh-interval") {
      localStorage.setItem("river-refresh-ms", target.value);
    } else if (target.id === "select-all") {
      document.querySelectorAll(".job-select").forEach(function (box) {
        box.checked = target.checked;
      });
      syncSelection();
    } else if (target.classList && target.classList.contains("job-select")) {
      syncSelection();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button");
    if (!button) return;
    if (button.id === "theme-toggle") {
      root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
      localStorage.setItem("river-theme", root.dataset.theme);
    } else if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    syncControls();
    window.setTimeout(tick, refreshMs() || 1000);
  });
  document.addEventListener("htmx:afterSettle", syncControls);
})();
