// Library page: uploads and path ingests with a live progress bar (server-sent events),
// delete with a confirmation, and local times.
"use strict";
(function () {
  const jobs = document.getElementById("jobs");

  function localTimes(root) {
    for (const cell of root.querySelectorAll("td.time[data-epoch]")) {
      const epoch = Number(cell.dataset.epoch);
      if (epoch > 0) cell.textContent = new Date(epoch * 1000).toLocaleString();
    }
  }

  function confirmDeletes(root) {
    for (const form of root.querySelectorAll("form.delete")) {
      form.addEventListener("submit", (e) => {
        const ask = `Delete "${form.dataset.name}" (video ${form.dataset.video})? ` +
          "Its scenes leave the index and a file kept by the server is removed.";
        if (window.confirm(ask)) form.elements.namedItem("confirm").value = "yes";
        else e.preventDefault();
      });
    }
  }

  async function refreshTable() {
    const response = await fetch("/library/table", { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const section = document.getElementById("library-table");
    section.innerHTML = await response.text();
    localTimes(section);
    confirmDeletes(section);
  }

  function jobRow(name) {
    const row = document.createElement("div");
    row.className = "job";
    const label = document.createElement("span");
    label.className = "job-name";
    label.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    const text = document.createElement("span");
    text.className = "job-text";
    text.textContent = "starting";
    row.append(label, bar, text);
    jobs.prepend(row);
    return { row, bar, text };
  }

  function pct(x) { return (100 * x).toFixed(0) + "%"; }

  // Follow a job's events: "sent" (bytes to the server), "progress" (ingest stages),
  // then "done" or "failed". A dropped connection is retried by EventSource itself, from
  // the last event id it saw.
  function follow(jobId, ui) {
    const events = new EventSource(`/jobs/${encodeURIComponent(jobId)}/events`);
    events.addEventListener("sent", (e) => {
      const d = JSON.parse(e.data);
      ui.bar.value = d.size ? 0.5 * (d.sent / d.size) : 0;  // sending: first half of the bar
      ui.text.textContent = `sending to the server ${pct(d.size ? d.sent / d.size : 0)}`;
    });
    events.addEventListener("progress", (e) => {
      const d = JSON.parse(e.data);
      const sending = ui.row.dataset.uploaded === "1";
      ui.bar.value = sending ? 0.5 + 0.5 * d.fraction : d.fraction;
      const frames = d.frames_total ? ` · ${d.frames_done}/${d.frames_total} frames` : "";
      ui.text.textContent = `${d.stage} ${pct(d.fraction)}${frames}`;
    });
    events.addEventListener("done", (e) => {
      const d = JSON.parse(e.data);
      events.close();
      ui.bar.value = 1;
      ui.row.classList.add("done");
      ui.text.textContent = d.already_ingested
        ? `done: already in the library as video ${d.video_id}`
        : `done: video ${d.video_id}`;
      const open = document.createElement("a");
      open.href = `/videos/${d.video_id}`;
      open.textContent = "open";
      ui.row.append(open);
      refreshTable();
    });
    events.addEventListener("failed", (e) => {
      const d = JSON.parse(e.data);
      events.close();
      ui.row.classList.add("failed");
      ui.text.textContent = `failed: ${d.message} (${d.code})`;
    });
  }

  // Upload: the browser -> web UI leg shows through XHR's upload progress; then the job.
  const upload = document.getElementById("upload-form");
  upload.addEventListener("submit", (e) => {
    e.preventDefault();
    const file = upload.elements.namedItem("file").files[0];
    if (!file) return;
    const ui = jobRow(file.name);
    ui.row.dataset.uploaded = "1";
    const xhr = new XMLHttpRequest();
    xhr.open("POST", upload.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (p) => {
      if (p.lengthComputable) ui.text.textContent = `uploading ${pct(p.loaded / p.total)}`;
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) follow(body.job, ui);
      else {
        ui.row.classList.add("failed");
        ui.text.textContent = `failed: ${body.error || xhr.status}. ${body.message || ""}`;
      }
    });
    xhr.addEventListener("error", () => {
      ui.row.classList.add("failed");
      ui.text.textContent = "failed: the web UI cannot be reached";
    });
    xhr.send(new FormData(upload));
    upload.reset();
  });

  const ingest = document.getElementById("ingest-form");
  ingest.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = ingest.elements.namedItem("path").value;
    const ui = jobRow(path);
    const response = await fetch(ingest.action, {
      method: "POST", body: new FormData(ingest), headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 202) follow(body.job, ui);
    else {
      ui.row.classList.add("failed");
      ui.text.textContent = `failed: ${body.error || response.status}. ${body.message || ""}`;
    }
  });

  if (jobs.dataset.job) follow(jobs.dataset.job, jobRow("ingest"));
  localTimes(document);
  confirmDeletes(document);
})();
