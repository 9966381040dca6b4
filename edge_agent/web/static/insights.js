"use strict";
// Charts by Chart.js, vendored and served by the box itself: nothing is fetched from outside.
// Every value from the agent is set as text, never as HTML.
const charts = {};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A long offer title on a narrow chart is cut by the canvas: break it into lines of whole words.
function lines(text, width = 18) {
  const out = [];
  for (const word of String(text).split(" ")) {
    const last = out.length - 1;
    if (last >= 0 && out[last].length + word.length < width) out[last] += " " + word;
    else out.push(word);
  }
  return out;
}

function bars(target, labels, series, horizontal) {  // series: [{name, color, data}]
  const host = document.getElementById(target);
  if (charts[target]) { charts[target].destroy(); delete charts[target]; }
  host.replaceChildren();
  if (!labels.length) { host.style.height = "auto"; host.append(el("p", "empty", "No data yet.")); return; }
  host.style.height = `${horizontal ? Math.max(160, labels.length * (22 * series.length + 12) + 60) : 220}px`;
  const canvas = el("canvas");
  host.append(canvas);
  const counts = { beginAtZero: true, ticks: { precision: 0 } };  // whole visits and offers, never 0.5
  charts[target] = new Chart(canvas, {
    type: "bar",
    data: { labels: horizontal ? labels.map(l => lines(l)) : labels, datasets: series.map(s => ({ label: s.name, backgroundColor: s.color, data: s.data })) },
    options: {
      indexAxis: horizontal ? "y" : "x", animation: false, maintainAspectRatio: false, responsive: true,
      plugins: { legend: { display: series.length > 1, position: "bottom" } },
      scales: horizontal ? { x: counts, y: { ticks: { autoSkip: false } } } : { y: counts },
    },
  });
}

const pct = v => v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`;
const share = (rate, visits) => visits ? `${pct(rate)} of ${visits} decided visits bought` : "no decided visits yet";
const minutes = v => v === null || v === undefined ? "–" : `${v} min`;

function conversion(c) {
  document.getElementById("summary").textContent = c.summary;
  document.getElementById("rates").textContent =
    `With an alert: ${share(c.treatment_rate, c.visits_decided.treatment)} · ` +
    `held out: ${share(c.holdout_rate, c.visits_decided.holdout)}.`;
  document.getElementById("method").textContent = c.method;
}

function dwell(zones) {
  const host = document.getElementById("dwell");
  host.replaceChildren();
  if (!zones.length) { host.append(el("p", "empty", "No stays yet.")); return; }
  const table = el("table", "zones");
  const head = el("tr");
  [["Zone", ""], ["Stays", "num"], ["Median", "num"], ["90 % within", "num"]].forEach(([t, c]) => head.append(el("th", c, t)));
  table.append(head);
  zones.forEach(z => {
    const row = el("tr");
    row.append(el("td", "", z.zone.replace(/-/g, " ")), el("td", "num", String(z.stays)),
      el("td", "num", minutes(z.median_min)), el("td", "num", minutes(z.p90_min)));
    table.append(row);
  });
  host.append(table);
}

function pairs(list) {
  const host = document.getElementById("pairs");
  host.replaceChildren();
  if (!list.length) { host.append(el("p", "empty", "No pair seen often enough yet.")); return; }
  const ul = el("ul", "pairs");
  list.forEach(p => {
    const li = el("li");
    li.append(el("span", "", `${p.a_title} + ${p.b_title}`), el("span", "", p.support === 1 ? "once" : `${p.support} times`));
    ul.append(li);
  });
  host.append(ul);
}

function render(data) {
  conversion(data.conversion);
  bars("offers", data.offers.map(o => o.title), [
    { name: "shown", color: "#c5d6fb", data: data.offers.map(o => o.shown.treatment) },
    { name: "accepted", color: "#2f6fed", data: data.offers.map(o => o.accepted) },
    { name: "redeemed", color: "#12a150", data: data.offers.map(o => o.redeemed.treatment) },
    { name: "redeemed, held out", color: "#a3adc2", data: data.offers.map(o => o.redeemed.holdout) },
  ], true);
  const hours = data.footfall.per_hour;
  bars("footfall", hours.map(h => h.hour.slice(5).replace("T", " ")),
    [{ name: "visitors", color: "#2f6fed", data: hours.map(h => h.visitors) }], false);
  dwell(data.dwell_zones);
  pairs(data.also_liked);
}

async function load() {
  const days = document.getElementById("days").value;
  const response = await fetch(`/api/insights?days=${encodeURIComponent(days)}`, { credentials: "same-origin" });
  if (response.ok) render(await response.json());
}

document.getElementById("days").addEventListener("change", load);
load();
