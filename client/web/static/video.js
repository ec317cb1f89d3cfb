// Video page: open at ?t=, scene strip that seeks, timeline plot and classify panel.
"use strict";
(function () {
  const player = document.getElementById("player");
  const now = document.getElementById("now");
  const clipLink = document.getElementById("clip-here");
  const sceneButtons = Array.from(document.querySelectorAll("button.scene"));
  const clock = window.TimelinePlot.clock;
  let plot = null;

  function hms(t) {
    const ms = Math.max(0, Math.round(t * 1000));
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60;
    const s = Math.floor(ms / 1000) % 60, r = ms % 1000;
    const two = (n) => String(n).padStart(2, "0");
    return `${two(h)}:${two(m)}:${two(s)}.${String(r).padStart(3, "0")}`;
  }

  function seek(t) {
    if (!player) return;
    player.currentTime = t;
    follow();
  }

  // Everything that follows the playhead: the time, the current scene, the plot, the clip.
  function follow() {
    if (!player) return;
    const t = player.currentTime;
    if (now) now.textContent = hms(t);
    let current = null;
    for (const b of sceneButtons) {
      const inside = t >= Number(b.dataset.start) && t < Number(b.dataset.end);
      b.classList.toggle("current", inside);
      if (inside) current = b;
    }
    if (current && clipLink) clipLink.href = `/scenes/${current.dataset.scene}/clip`;
    if (plot) plot.move(t);
  }

  if (player) {
    const start = Number(player.dataset.start || 0);
    const open = () => { if (start > 0) player.currentTime = start; follow(); };
    if (player.readyState >= 1) open();
    else player.addEventListener("loadedmetadata", open, { once: true });
    for (const kind of ["timeupdate", "seeked", "seeking"]) player.addEventListener(kind, follow);
    // timeupdate fires about 4 times a second; a frame-by-frame playhead while playing.
    const tick = () => { follow(); if (!player.paused) requestAnimationFrame(tick); };
    player.addEventListener("play", () => requestAnimationFrame(tick));
  }
  for (const b of sceneButtons) b.addEventListener("click", () => seek(Number(b.dataset.start)));
  for (const img of document.querySelectorAll(".scene img")) {
    const mark = () => img.parentElement.classList.add("missing");
    img.addEventListener("error", mark);
    if (img.complete && img.naturalWidth === 0) mark();
  }

  async function post(form, status) {
    status.textContent = "working…";
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
    }).catch(() => null);
    if (!response) { status.textContent = "The web UI cannot be reached."; return null; }
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      status.textContent = `${body.error}. ${body.message || ""}`;
      if (response.status === 401) window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
      return null;
    }
    status.textContent = "";
    return body;
  }

  // The server names example-image prompts "image 1", "image 2"... in the order sent, which
  // is the order of the form's files: show the file names instead.
  function namer(form) {
    const files = Array.from(form.elements.namedItem("images").files);
    return (label) => {
      const m = /^image (\d+)$/.exec(label);
      return m && files[Number(m[1]) - 1] ? files[Number(m[1]) - 1].name : label;
    };
  }

  function button(text, t, color) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    if (color) {
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color;
      b.append(sw, " ");
    }
    b.append(text);
    b.addEventListener("click", () => seek(t));
    return b;
  }

  // --- timeline ---
  const tForm = document.getElementById("timeline-form");
  const tStatus = document.getElementById("timeline-status");
  const tools = document.querySelector(".plot-tools");
  const slider = document.getElementById("threshold");
  const sliderValue = document.getElementById("threshold-value");
  const segments = document.getElementById("segments");
  let curves = [];

  function listSegments() {
    segments.textContent = "";
    curves.forEach((curve, i) => {
      const spans = plot.spans(i);
      const li = document.createElement("li");
      li.append(button(curve.label, spans.length ? spans[0][0] : 0, plot.color(i)));
      li.className = "legend";
      segments.append(li);
      for (const [a, b] of spans) {
        const item = document.createElement("li");
        item.append(button(`${clock(a)}–${clock(b)}`, a));
        segments.append(item);
      }
    });
  }

  tForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = await post(tForm, tStatus);
    if (!data) return;
    const name = namer(tForm);
    for (const curve of data.curves) curve.label = name(curve.label);
    curves = data.curves;
    tools.hidden = false;
    plot = window.TimelinePlot.create(document.getElementById("plot"), data, seek);
    const [lo, hi] = plot.range;
    slider.min = lo.toFixed(4);
    slider.max = hi.toFixed(4);
    slider.step = ((hi - lo) / 400).toFixed(5);
    slider.value = plot.threshold;
    sliderValue.textContent = plot.threshold.toFixed(3);
    if (player) plot.move(player.currentTime);
    listSegments();
  });
  slider.addEventListener("input", () => {
    if (!plot) return;
    plot.setThreshold(Number(slider.value));
    sliderValue.textContent = Number(slider.value).toFixed(3);
    if (player) plot.move(player.currentTime);
    listSegments();
  });

  // --- classify ---
  const cForm = document.getElementById("classify-form");
  const cStatus = document.getElementById("classify-status");
  const cResult = document.getElementById("classify-result");

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.append(td);
    return td;
  }

  cForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = await post(cForm, cStatus);
    if (!data) return;
    const name = namer(cForm);
    data.labels = data.labels.map(name);
    for (const iv of data.intervals) iv.label = iv.label && name(iv.label);
    for (const p of data.prompts) p.label = name(p.label);
    cResult.textContent = "";
    const colors = {};
    data.labels.forEach((label, i) => { colors[label] = window.TimelinePlot.COLORS[i % 8]; });
    const strip = document.createElement("div");
    strip.className = "labels-strip";
    const total = Math.max(data.duration_s, 0.001);
    for (const iv of data.intervals) {
      const b = document.createElement("button");
      b.type = "button";
      b.title = `${clock(iv.start_s)}–${clock(iv.end_s)}: ${iv.label || "none"}`;
      b.style.flexGrow = String(Math.max(iv.end_s - iv.start_s, 0.001) / total);
      b.style.background = colors[iv.label] || "#d0d5dd";
      b.addEventListener("click", () => seek(iv.start_s));
      strip.append(b);
    }
    const table = document.createElement("table");
    table.className = "grid";
    const head = table.createTHead().insertRow();
    for (const h of ["class", "contains", "coverage", "first seen", "visible"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const p of data.prompts) {
      const row = body.insertRow();
      const name = cell(row, "");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colors[p.label] || "#d0d5dd";
      name.append(sw, " " + p.label);
      cell(row, p.contains ? "yes" : "no");
      cell(row, `${p.coverage_pct.toFixed(1)}%`, "num");
      const first = cell(row, "", "num");
      if (p.first_seen_s >= 0) first.append(button(clock(p.first_seen_s), p.first_seen_s));
      else first.textContent = "never";
      cell(row, `${p.visible_s.toFixed(1)} s`, "num");
    }
    const details = document.createElement("details");
    details.className = "intervals";
    const summary = document.createElement("summary");
    summary.textContent = `${data.intervals.length} intervals`;
    const list = document.createElement("table");
    list.className = "grid";
    for (const iv of data.intervals) {
      const row = list.insertRow();
      cell(row, `${clock(iv.start_s)}–${clock(iv.end_s)}`, "num");
      cell(row, iv.label || "—");
      cell(row, iv.counts.join(" / "), "dim");
    }
    details.append(summary, list);
    cResult.append(strip, table, details);
  });
})();
