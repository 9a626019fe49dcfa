"use strict";
// The run page: params, summary, command, metric charts and the live log tail.
const { el, api, fmt, duration, when, badge, poll, notice, LineChart } = HS;

const runId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const base = `/api/runs/${encodeURIComponent(runId)}`;
const charts = new Map(); // metric key -> LineChart
let run = null;
let logDone = false;

function kvRows(obj) {
  return Object.entries(obj).map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { class: "num", text: fmt(v) })));
}

function renderRun(r) {
  run = r;
  document.title = `run ${r.id} · hypersweep`;
  const crumb = document.getElementById("crumb");
  crumb.replaceChildren(el("a", { href: `/sweeps/${encodeURIComponent(r.sweep_id)}`, text: r.sweep_name }), ` / run ${r.id}`);
  document.getElementById("run-title").textContent = `run ${r.id}`;
  document.getElementById("run-state").replaceChildren(badge(r.state));
  document.getElementById("exit-code").textContent = r.exit_code === null ? "–" : String(r.exit_code);
  document.getElementById("host").textContent = r.host || "–";
  document.getElementById("worker").textContent = r.worker_id || "–";
  document.getElementById("gpus").textContent = r.gpu_ids || "none";
  document.getElementById("attempt").textContent = String(r.attempt);
  document.getElementById("started").textContent = when(r.started_at);
  document.getElementById("duration").textContent =
    r.started_at ? duration((r.ended_at || Date.now() / 1000) - r.started_at) : "–";
  document.getElementById("message").textContent = r.message || "";
  document.querySelector("#params-table tbody").replaceChildren(...kvRows(r.params));
  document.querySelector("#summary-table tbody").replaceChildren(...kvRows(r.summary));
  document.getElementById("command").textContent = r.command_line || "(not started yet)";
  const stop = document.getElementById("stop-btn");
  stop.hidden = r.state !== "running";
  stop.disabled = r.stop_requested;
  stop.textContent = r.stop_requested ? "Stopping…" : "Stop run";
}

async function renderMetrics() {
  const data = await api(`${base}/metrics`);
  const box = document.getElementById("charts");
  document.getElementById("charts-empty").hidden = data.series.length > 0;
  const primary = run && run.metric ? run.metric.name : null;
  // The sweep's metric first, then the rest by name.
  const series = [...data.series].sort((a, b) => (b.key === primary) - (a.key === primary));
  for (const s of series) {
    let chart = charts.get(s.key);
    if (!chart) {
      const holder = el("div", { class: "chart", dataset: { key: s.key } });
      box.append(holder);
      chart = new LineChart(holder, { title: s.key, height: 220 });
      charts.set(s.key, chart);
    }
    chart.set(s.steps, [{ label: s.key, values: s.values }]);
  }
}

async function renderLog() {
  const log = await api(`${base}/log`);
  const pre = document.getElementById("log");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
  pre.textContent = log.text || "(empty)";
  if (atBottom) pre.scrollTop = pre.scrollHeight;
  const note = log.source === "store" ? "(last lines kept in the store: the log file is on another machine)"
    : log.truncated ? `(last ${log.text.length} of ${log.size} bytes)` : "";
  document.getElementById("log-note").textContent = note;
}

document.getElementById("stop-btn").addEventListener("click", async () => {
  try {
    notice((await api(`${base}/stop`, { method: "POST" })).message);
  } catch (err) {
    notice(`stop refused: ${err.message}`);
  }
  renderRun(await api(base));
});

poll(async () => {
  if (logDone) return;
  renderRun(await api(base));
  await renderMetrics();
  await renderLog();
  // The agent flushes metrics and log before it records the end: read after an ended
  // state, they are final and polling can stop.
  logDone = !["running", "pending"].includes(run.state);
}, 2000);
