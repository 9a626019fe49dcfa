"use strict";
// The sweep page: live progress, runs table, charts, actions. All data from /api.
const { el, svg, api, fmt, duration, badge, poll, notice, color, LineChart, align } = HS;

const sweepId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const base = `/api/sweeps/${encodeURIComponent(sweepId)}`;
const table = { sort: "created", state: "", q: "", offset: 0, limit: 50 };
let sweep = null;
const bestChart = new LineChart(document.getElementById("best-chart"), { xLabel: "runs ended", stepped: true });
const curvesChart = new LineChart(document.getElementById("curves-chart"), { xLabel: "step" });

// ------------------------------------------------------------------ header + actions

function renderSweep(s) {
  sweep = s;
  document.title = `${s.name} · hypersweep`;
  document.getElementById("crumb").textContent = `sweep ${s.id}`;
  document.getElementById("sweep-name").textContent = s.name;
  document.getElementById("sweep-state").replaceChildren(badge(s.state),
    s.message ? el("span", { class: "muted", text: ` ${s.message}` }) : "");
  const p = s.progress;
  const total = p.total === null ? "∞" : String(p.total);
  document.getElementById("progress-text").textContent = `${p.done}/${total} done, ${p.running} running`;
  document.getElementById("progress-bar").style.width = p.total ? `${Math.min(100, (100 * p.done) / p.total)}%` : "0";
  document.getElementById("counts-text").textContent =
    Object.entries(p.counts).map(([k, v]) => `${v} ${k}`).join(", ") || "none yet";
  document.getElementById("best-value").textContent = s.metric ? fmt(s.best_value) : "–";
  document.getElementById("method").textContent = s.method;
  document.getElementById("metric").textContent = s.metric ? `${s.metric.name} (${s.metric.goal})` : "none";
  document.getElementById("workers").textContent = String(s.workers);
  document.getElementById("duration").textContent = duration(s.duration_s);
  document.getElementById("pause-btn").disabled = s.state !== "running";
  document.getElementById("resume-btn").disabled = !["paused", "cancelled", "failed"].includes(s.state);
  document.getElementById("cancel-btn").disabled = !["running", "paused"].includes(s.state);

  const best = s.best_so_far;
  document.getElementById("best-empty").hidden = best.length > 0;
  if (best.length) {
    // Extend the last best to the latest ended run so the line reaches "now".
    const xs = best.map((b) => b.n);
    const ys = best.map((b) => b.value);
    const ended = p.done;
    if (ended > xs[xs.length - 1]) { xs.push(ended); ys.push(ys[ys.length - 1]); }
    bestChart.set(xs, [{ label: `best ${s.metric.name}`, values: ys }]);
  }
  const select = document.getElementById("curve-key");
  const keys = s.metric_keys.length ? s.metric_keys : (s.metric ? [s.metric.name] : []);
  const current = select.value || (s.metric && keys.includes(s.metric.name) ? s.metric.name : keys[0]);
  if ([...select.options].map((o) => o.value).join("\u0000") !== keys.join("\u0000")) {
    select.replaceChildren(...keys.map((k) => el("option", { value: k, text: k })));
  }
  if (current) select.value = current;
}

async function act(action, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    const result = await api(`${base}/${action}`, { method: "POST" });
    notice(result.message);
  } catch (err) {
    notice(`${action} refused: ${err.message}`);
  }
  await refreshSweep();
}

document.getElementById("pause-btn").addEventListener("click", () => act("pause"));
document.getElementById("resume-btn").addEventListener("click", () => act("resume"));
document.getElementById("cancel-btn").addEventListener("click", () =>
  act("cancel", "Cancel this sweep for good? Its running runs are stopped."));

// ------------------------------------------------------------------------ runs table

function columns() {
  const params = Object.keys(((sweep && sweep.config.parameters) || {}));
  const metric = sweep && sweep.metric ? sweep.metric.name : null;
  return [
    { label: "run", sort: "id", cell: (r) => el("a", { href: `/runs/${encodeURIComponent(r.id)}`, text: r.id }) },
    { label: "state", sort: "state", cell: (r) => badge(r.state), cls: "state" },
    ...(metric ? [{ label: metric, sort: `summary:${metric}`, cls: "num", cell: (r) => fmt(r.summary[metric]) }] : []),
    ...params.slice(0, 8).map((k) => ({ label: k, sort: `params:${k}`, cell: (r) => fmt(r.params[k]) })),
    { label: "started", sort: "started", cell: (r) => (r.started_at ? new Date(r.started_at * 1000).toLocaleTimeString() : "–") },
    { label: "duration", cell: (r) => (r.started_at ? duration((r.ended_at || Date.now() / 1000) - r.started_at) : "–") },
    { label: "", cell: (r) => (r.state === "running" && !r.stop_requested
      ? el("button", { class: "stop-btn danger", onclick: () => stopRun(r.id), text: "Stop" })
      : r.stop_requested && r.state === "running" ? el("span", { class: "muted", text: "stopping…" }) : "") },
  ];
}

async function stopRun(runId) {
  try {
    notice((await api(`/api/runs/${encodeURIComponent(runId)}/stop`, { method: "POST" })).message);
  } catch (err) {
    notice(`stop refused: ${err.message}`);
  }
  await refreshRuns();
}

function renderHead(cols) {
  const row = document.querySelector("#runs-table thead tr");
  row.replaceChildren(...cols.map((c) => {
    const th = el("th", { text: c.label });
    if (c.sort) {
      th.classList.add("sortable");
      if (table.sort === c.sort) th.classList.add("sorted-asc");
      if (table.sort === `-${c.sort}`) th.classList.add("sorted-desc");
      th.addEventListener("click", () => {
        table.sort = table.sort === c.sort ? `-${c.sort}` : c.sort;
        table.offset = 0;
        refreshRuns();
      });
    }
    return th;
  }));
}

async function refreshRuns() {
  if (!sweep) return;
  const params = new URLSearchParams({ sort: table.sort, offset: table.offset, limit: table.limit });
  if (table.state) params.set("state", table.state);
  if (table.q) params.set("q", table.q);
  const page = await api(`${base}/runs?${params}`);
  const cols = columns();
  renderHead(cols);
  document.querySelector("#runs-table tbody").replaceChildren(...page.runs.map((r) =>
    el("tr", { dataset: { runId: r.id, state: r.state } },
      ...cols.map((c) => el("td", { class: c.cls }, c.cell(r))))));
  const last = Math.min(page.total, page.offset + page.runs.length);
  document.getElementById("page-text").textContent =
    page.total ? `${page.offset + 1}–${last} of ${page.total}` : "no runs";
  document.getElementById("prev-page").disabled = page.offset === 0;
  document.getElementById("next-page").disabled = last >= page.total;
}

document.getElementById("state-filter").addEventListener("change", (e) => {
  table.state = e.target.value; table.offset = 0; refreshRuns();
});
let searchTimer = null;
document.getElementById("search").addEventListener("input", (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { table.q = e.target.value.trim(); table.offset = 0; refreshRuns(); }, 250);
});
document.getElementById("prev-page").addEventListener("click", () => {
  table.offset = Math.max(0, table.offset - table.limit); refreshRuns();
});
document.getElementById("next-page").addEventListener("click", () => {
  table.offset += table.limit; refreshRuns();
});

// ----------------------------------------------------------------------------- charts

async function refreshCurves() {
  const key = document.getElementById("curve-key").value;
  if (!key) return;
  const data = await api(`${base}/curves?${new URLSearchParams({ key })}`);
  const curves = data.runs.filter((c) => c.steps.length);
  const { xs, columns: cols } = align(curves);
  curvesChart.set(xs, curves.map((c, i) => ({ label: c.run_id, values: cols[i], color: color(i) })));
  document.getElementById("curves-note").textContent =
    `${curves.length} runs` + (data.points_per_run < 200 ? `, about ${data.points_per_run} points each` : "");
}
document.getElementById("curve-key").addEventListener("change", refreshCurves);

// Parallel coordinates: one vertical axis per parameter and one for the metric; one line per
// run, coloured from worst (blue) to best (red). Drawn as SVG; labels via textContent.
async function refreshParallel() {
  const data = await api(`${base}/parallel`);
  const box = document.getElementById("parallel");
  const axes = [...data.params.map((p) => ({ name: p, get: (r) => r.params[p] }))];
  if (data.metric) axes.push({ name: data.metric.name, get: (r) => r.value, metric: true });
  if (!axes.length || !data.runs.length) { box.replaceChildren(el("p", { class: "muted", text: "No runs yet." })); return; }
  const width = Math.max(320, box.clientWidth), height = 300, top = 24, bottom = 20;
  const x = (i) => 40 + (i * (width - 80)) / Math.max(1, axes.length - 1);
  const scales = axes.map((a) => scaleFor(data.runs.map(a.get), top, height - bottom));
  const root = svg("svg", { width, height, role: "img", "aria-label": "parameters vs metric" });
  const metricScale = data.metric ? scaleFor(data.runs.map((r) => r.value), 0, 1) : null;
  const goodHigh = data.metric && data.metric.goal === "maximize";
  for (const run of data.runs) {
    const pts = axes.map((a, i) => {
      const y = scales[i].pos(a.get(run));
      return y === null ? null : `${x(i).toFixed(1)},${y.toFixed(1)}`;
    }).filter(Boolean);
    let t = metricScale ? metricScale.pos(run.value) : null;
    if (t !== null && !goodHigh) t = 1 - t;
    const stroke = t === null ? "#bbb" : `hsl(${Math.round(240 - 240 * t)}, 70%, 48%)`;
    const line = svg("polyline", { points: pts.join(" "), class: "pc-line", stroke });
    line.append(svg("title", {}, `${run.id} ${axes.map((a) => `${a.name}=${fmt(a.get(run))}`).join(" ")}`));
    root.append(line);
  }
  axes.forEach((a, i) => {
    root.append(svg("line", { x1: x(i), x2: x(i), y1: top, y2: height - bottom, stroke: "#555" }));
    root.append(svg("text", { x: x(i), y: 14, "text-anchor": "middle", "font-weight": a.metric ? 700 : 400 }, a.name));
    for (const [label, y] of scales[i].ticks) {
      root.append(svg("text", { x: x(i) + 4, y: y + 4 }, label));
    }
  });
  box.replaceChildren(root);
}

// A vertical scale for one axis: numbers linearly (log when positive over 3+ decades),
// anything else as evenly spaced categories.
function scaleFor(values, y0, y1) {
  const present = values.filter((v) => v !== null && v !== undefined);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number");
  if (numeric) {
    let lo = Math.min(...present), hi = Math.max(...present);
    const log = lo > 0 && hi / lo >= 1000;
    const f = log ? Math.log10 : (v) => v;
    const a = f(lo), b = f(hi);
    const pos = (v) => (typeof v !== "number" ? null : b === a ? (y0 + y1) / 2 : y1 - ((f(v) - a) / (b - a)) * (y1 - y0));
    return { pos, ticks: [[fmt(hi), pos(hi)], [fmt(lo), pos(lo)]] };
  }
  const cats = [...new Set(present.map((v) => fmt(v)))].sort();
  const step = cats.length > 1 ? (y1 - y0) / (cats.length - 1) : 0;
  const at = new Map(cats.map((c, i) => [c, cats.length > 1 ? y1 - i * step : (y0 + y1) / 2]));
  const pos = (v) => (v === null || v === undefined ? null : at.get(fmt(v)));
  return { pos, ticks: cats.slice(0, 12).map((c) => [c.length > 18 ? `${c.slice(0, 17)}…` : c, at.get(c)]) };
}

async function refreshImportance() {
  const box = document.getElementById("importance");
  const data = await api(`${base}/importance`);
  if (!data.available) { box.replaceChildren(el("p", { class: "muted", text: data.reason })); return; }
  box.replaceChildren(...Object.entries(data.shares).map(([name, share]) =>
    el("div", { class: "bar" },
      el("span", { text: name }),
      el("div", {}, el("div", { class: "fill", style: `width:${(share * 100).toFixed(1)}%` })),
      el("span", { class: "num", text: `${(share * 100).toFixed(1)}%` }))));
}

// --------------------------------------------------------------------------- polling

async function refreshSweep() { renderSweep(await api(base)); }

async function start() {
  await refreshSweep();
  poll(async () => { await refreshSweep(); await refreshRuns(); }, 2000);
  poll(async () => { await refreshCurves(); await refreshParallel(); }, 6000);
  poll(refreshImportance, 15000);
}

start().catch((err) => HS.showError(err.message));
