// Similarity-over-time plot, hand-drawn in SVG: one curve per prompt, scene cuts dashed,
// spans at or above the threshold shaded, a playhead, and a click that reports a time.
"use strict";
window.TimelinePlot = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2f6fde", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0b7285", "#f08c00", "#5c7cfa"];
  const M = { left: 46, right: 14, top: 12, bottom: 26 };
  const HEIGHT = 250;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function clock(t) {
    const m = Math.floor(t / 60), s = t - 60 * m;
    return `${m}:${s < 10 ? "0" : ""}${s.toFixed(s % 1 ? 1 : 0)}`;
  }

  function niceStep(span, target) {
    const raw = span / Math.max(1, target);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  // Runs of consecutive samples at or above the threshold, as [start, end] times.
  function spansAbove(times, scores, threshold) {
    const spans = [];
    let start = null;
    for (let i = 0; i < scores.length; i++) {
      if (scores[i] >= threshold && start === null) start = times[i];
      if (scores[i] < threshold && start !== null) { spans.push([start, times[i - 1]]); start = null; }
    }
    if (start !== null) spans.push([start, times[times.length - 1]]);
    return spans;
  }

  // Only the newest plot redraws on resize (a new plot replaces the old one's drawing).
  let active = null;
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => active && active(), 150);
  });

  function create(container, data, onSeek) {
    const duration = Math.max(data.duration_s, data.times_s[data.times_s.length - 1] || 0, 0.001);
    const all = data.curves.flatMap((c) => c.scores);
    let lo = Math.min(...all), hi = Math.max(...all);
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    const pad = Math.max((hi - lo) * 0.08, 0.005);
    lo -= pad; hi += pad;
    const state = { threshold: lo + 0.7 * (hi - lo), time: 0 };
    let svg, x, y, width;

    function draw() {
      container.textContent = "";
      width = Math.max(320, container.clientWidth);
      const w = width - M.left - M.right, h = HEIGHT - M.top - M.bottom;
      x = (t) => M.left + (w * t) / duration;
      y = (s) => M.top + h * (1 - (s - lo) / (hi - lo));
      svg = el("svg", { width, height: HEIGHT, role: "img", "aria-label": "similarity over time",
        "data-x0": x(0), "data-x1": x(duration), "data-duration": duration }, container);
      el("rect", { x: M.left, y: M.top, width: w, height: h, fill: "#fbfcfe", stroke: "#dde1e8" }, svg);
      const shade = el("g", { class: "shade" }, svg);
      data.curves.forEach((curve, i) => {
        for (const [a, b] of spansAbove(data.times_s, curve.scores, state.threshold)) {
          el("rect", { x: x(a), y: M.top, width: Math.max(2, x(b) - x(a)), height: h,
            fill: COLORS[i % COLORS.length], "fill-opacity": 0.13 }, shade);
        }
      });
      const step = niceStep(duration, w / 90);
      for (let t = 0; t <= duration + 1e-9; t += step) {
        el("line", { x1: x(t), x2: x(t), y1: M.top + h, y2: M.top + h + 4, stroke: "#98a2b3" }, svg);
        el("text", { x: x(t), y: HEIGHT - 8, "text-anchor": "middle" }, svg).textContent = clock(t);
      }
      const ystep = niceStep(hi - lo, 4);
      for (let s = Math.ceil(lo / ystep) * ystep; s <= hi; s += ystep) {
        el("line", { x1: M.left, x2: M.left + w, y1: y(s), y2: y(s), stroke: "#eef0f4" }, svg);
        el("text", { x: M.left - 6, y: y(s) + 4, "text-anchor": "end" }, svg).textContent =
          s.toFixed(ystep < 0.01 ? 3 : 2);
      }
      for (const cut of data.scene_starts_s) {
        if (cut <= 0) continue;
        el("line", { x1: x(cut), x2: x(cut), y1: M.top, y2: M.top + h, stroke: "#98a2b3",
          "stroke-dasharray": "4 3", class: "cut" }, svg);
      }
      el("line", { x1: M.left, x2: M.left + w, y1: y(state.threshold), y2: y(state.threshold),
        stroke: "#667085", "stroke-dasharray": "2 3", class: "threshold" }, svg);
      data.curves.forEach((curve, i) => {
        const points = data.times_s.map((t, k) => `${x(t).toFixed(1)},${y(curve.scores[k]).toFixed(1)}`);
        el("polyline", { points: points.join(" "), fill: "none", stroke: COLORS[i % COLORS.length],
          "stroke-width": 2, "stroke-linejoin": "round", class: "curve" }, svg);
      });
      state.playhead = el("line", { y1: M.top, y2: M.top + h, stroke: "#d92d20", "stroke-width": 2,
        class: "playhead" }, svg);
      state.hover = el("text", { y: M.top + 12, "text-anchor": "middle", class: "hover" }, svg);
      move(state.time);
      svg.addEventListener("click", (e) => {
        const t = timeAt(e);
        if (t !== null) onSeek(t);
      });
      svg.addEventListener("mousemove", (e) => {
        const t = timeAt(e);
        state.hover.textContent = t === null ? "" : clock(t);
        if (t !== null) state.hover.setAttribute("x", x(t));
      });
      svg.addEventListener("mouseleave", () => { state.hover.textContent = ""; });
    }

    function timeAt(e) {
      const px = e.clientX - svg.getBoundingClientRect().left;
      if (px < M.left - 4 || px > width - M.right + 4) return null;
      return Math.min(duration, Math.max(0, ((px - M.left) / (x(duration) - M.left)) * duration));
    }

    function move(t) {
      state.time = t;
      if (!state.playhead) return;
      const px = x(Math.min(duration, Math.max(0, t)));
      state.playhead.setAttribute("x1", px);
      state.playhead.setAttribute("x2", px);
    }

    draw();
    active = draw;
    return {
      range: [lo, hi],
      get threshold() { return state.threshold; },
      setThreshold(value) { state.threshold = value; draw(); },
      move,
      spans: (i) => spansAbove(data.times_s, data.curves[i].scores, state.threshold),
      color: (i) => COLORS[i % COLORS.length],
    };
  }

  return { create, clock, COLORS };
})();
