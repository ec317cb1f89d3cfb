// Concepts pages: delete after a confirmation dialog (without a script, a page asks instead);
// local times.
"use strict";
(function () {
  for (const form of document.querySelectorAll("form.delete[data-name]")) {
    form.addEventListener("submit", (e) => {
      if (window.confirm(`Delete the concept "${form.dataset.name}"? This cannot be undone.`)) {
        form.elements.namedItem("confirm").value = "yes";
      } else {
        e.preventDefault();
      }
    });
  }
  for (const cell of document.querySelectorAll("td.time[data-epoch]")) {
    const epoch = Number(cell.dataset.epoch);
    if (epoch > 0) cell.textContent = new Date(epoch * 1000).toLocaleString();
  }
})();
