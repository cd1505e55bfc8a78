// Live progress of a grading run (templates/admin/grading/gradingrun/): every element with
// data-run-progress-url polls that JSON endpoint (grading.admin.runs.progress_view) about once
// a second while the run is queued or running, and fills its [data-run-field] children and its
// <progress> bar. With data-run-reload the page reloads once the run ends, to show what the
// run did. A script file, not inline: the Content-Security-Policy runs no inline script.
"use strict";
(function () {
  const POLL_MS = 1000;
  const MAX_BACKOFF_MS = 15000;

  function fill(widget, state) {
    widget.querySelectorAll("[data-run-field]").forEach((node) => {
      const value = state[node.dataset.runField];
      if (value !== undefined && value !== null) {
        node.textContent = String(value);
      }
    });
    const bar = widget.querySelector("progress");
    if (bar) {
      bar.value = state.percent;
      bar.textContent = state.percent + " %";
    }
  }

  function watch(widget) {
    const url = widget.dataset.runProgressUrl;
    let delay = POLL_MS;
    const poll = () => {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then((state) => {
          fill(widget, state);
          delay = POLL_MS;
          if (state.finished) {
            widget.dataset.runFinished = "1";
            if (widget.dataset.runReload) {
              window.location.reload();
            }
            return;
          }
          window.setTimeout(poll, delay);
        })
        .catch(() => {
          // The server restarted or the network blinked: slow down, keep trying.
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
          window.setTimeout(poll, delay);
        });
    };
    window.setTimeout(poll, POLL_MS);
  }

  // The admin loads its media in <head>: wait for the page's elements.
  const start = () => document.querySelectorAll("[data-run-progress-url]").forEach(watch);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
