// Shared helpers of the dashboard pages. Everything that came from users (names, params,
// metric keys, logs) reaches the page through textContent, never through HTML parsing.
"use strict";

const HS = (() => {
  // Build an element: el("td", {class: "x", dataset: {runId: id}}, "text", childNode, ...).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const svgNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(svgNS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (options.method && options.method !== "GET") {
      init.method = options.method;
      init.headers["X-Requested-With"] = "hypersweep"; // the server's CSRF guard
    }
    const response = await fetch(path, init);
    let body = null;
    try { body = await response.json(); } catch (_e) { body = null; }
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.statusText;
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    return body;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const abs = Math.abs(value);
      return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : String(+value.toPrecision(5));
    }
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }

  function when(epoch) {
    return epoch ? new Date(epoch * 1000).toLocaleString() : "–";
  }

  function badge(state) {
    return el("span", { class: `badge state-${state}`, text: state });
  }

  // Poll `fn` every `ms` while the tab is visible; one failing call shows an error banner
  // and the next success clears it.
  function poll(fn, ms) {
    let timer = null;
    async function tick() {
      try {
        await fn();
        showError(null);
      } catch (err) {
        showError(err.message);
      }
      timer = setTimeout(tick, document.hidden ? ms * 5 : ms);
    }
    tick();
    return () => clearTimeout(timer);
  }

  function showError(message) {
    const box = document.getElementById("error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function notice(message) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  const color = (i) => PALETTE[i % PALETTE.length];

  // A line chart (uPlot) that can be fed new data without being rebuilt.
  class LineChart {
    constructor(container, { title, xLabel, stepped = false, height = 260 } = {}) {
      this.container = container;
      this.title = title;
      this.xLabel = xLabel || "step";
      this.stepped = stepped;
      this.height = height;
      this.plot = null;
      this.labels = null;
      new ResizeObserver(() => this.resize()).observe(container);
    }

    width() { return Math.max(200, this.container.clientWidth - 8); }

    resize() { if (this.plot) this.plot.setSize({ width: this.width(), height: this.height }); }

    // xs: shared x values; series: [{label, values, color}] aligned to xs (null = gap).
    set(xs, series) {
      const labels = series.map((s) => s.label).join("\u0000");
      const data = [xs, ...series.map((s) => s.values)];
      if (this.plot && labels === this.labels) {
        this.plot.setData(data);
        return;
      }
      if (this.plot) this.plot.destroy();
      this.labels = labels;
      const many = series.length > 12;
      const opts = {
        title: this.title,
        width: this.width(),
        height: this.height,
        legend: { show: !many },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: false } },
        axes: [{ label: this.xLabel }, {}],
        series: [
          { label: this.xLabel },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color || color(i),
            width: many ? 1 : 1.5,
            spanGaps: true,
            points: { show: xs.length < 40 && !many },
            paths: this.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
          })),
        ],
      };
      this.plot = new uPlot(opts, data, this.container);
    }
  }

  // Align curves with different steps on one x axis, as uPlot wants.
  function align(curves) {
    const steps = new Set();
    for (const c of curves) for (const s of c.steps) steps.add(s);
    const xs = [...steps].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const columns = curves.map((c) => {
      const col = new Array(xs.length).fill(null);
      c.steps.forEach((s, i) => { col[index.get(s)] = c.values[i]; });
      return col;
    });
    return { xs, columns };
  }

  return { el, svg, api, fmt, duration, when, badge, poll, notice, showError, color, LineChart, align };
})();
