"use strict";
const { el, api, fmt, duration, when, badge, poll } = HS;

async function refresh() {
  const sweeps = await api("/api/sweeps");
  const body = document.querySelector("#sweeps-table tbody");
  document.getElementById("empty").hidden = sweeps.length > 0;
  body.replaceChildren(...sweeps.map((sw) => {
    const p = sw.progress;
    const total = p.total === null ? "∞" : p.total;
    return el("tr", { dataset: { sweepId: sw.id } },
      el("td", {}, el("a", { href: `/sweeps/${encodeURIComponent(sw.id)}`, text: sw.name })),
      el("td", { class: "muted", text: sw.id }),
      el("td", { text: sw.method }),
      el("td", {}, badge(sw.state)),
      el("td", { text: `${p.done}/${total} done · ${p.running} running` }),
      el("td", { class: "num", text: sw.metric ? `${sw.metric.name} ${fmt(sw.best_value)}` : "–" }),
      el("td", { text: when(sw.created_at) }),
      el("td", { text: duration(sw.duration_s) }));
  }));
}

poll(refresh, 3000);
