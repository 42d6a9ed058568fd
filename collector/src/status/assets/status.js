// Vigil status page: refresh the content every minute while the page is visible. Same origin only; the page
// is complete without this script.
"use strict";
(function () {
  const PERIOD_MS = 60000;
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["status", "updated"]) {
        const now = document.getElementById(id);
        const next = fresh.getElementById(id);
        if (now && next) now.replaceWith(next);
      }
      document.documentElement.dataset.refreshed = new Date().toISOString();
    } catch (e) {
      // Offline or the collector restarting: keep what is shown and try again next period.
    }
  }
  document.documentElement.dataset.live = "on";
  window.setInterval(refresh, PERIOD_MS);
  document.addEventListener("visibilitychange", refresh);
})();
