// The ops page: poll /ops/summary every second and show the figures. Vanilla JS, no build step.
"use strict";

const REFRESH_MS = 1000;
const TIMEOUT_MS = 3000;
const SPARK_POINTS = 90;
const $ = (selector) => document.querySelector(selector);
const series = { rate: [], p99: [] };
let seq = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function number(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function setValue(id, value, digits, unit) {
  const node = document.getElementById(id);
  node.replaceChildren(number(value, digits));
  if (unit && value !== null && value !== undefined) node.append(el("span", { class: "unit" }, unit));
  node.dataset.value = value === null || value === undefined ? "" : String(value);
}

function spark(canvasId, values) {
  const canvas = document.getElementById(canvasId);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const points = values.filter((v) => v !== null);
  if (points.length < 2) return;
  const max = Math.max(...points) || 1;
  ctx.strokeStyle = "#2f6fdf";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = (i / (SPARK_POINTS - 1)) * canvas.width;
    const y = canvas.height - 2 - ((v || 0) / max) * (canvas.height - 4);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function remember(name, value) {
  series[name].push(value);
  if (series[name].length > SPARK_POINTS) series[name].shift();
}

function rows(tableId, body) {
  document.querySelector(`#${tableId} tbody`).replaceChildren(...body);
}

function render(summary) {
  const g = summary.gateway;
  setValue("rate", g.lookups_per_s, 1);
  setValue("p50", g.latency.p50_ms, 1, "ms");
  setValue("p90", g.latency.p90_ms, 1, "ms");
  setValue("p99", g.latency.p99_ms, 1, "ms");
  setValue("errors", g.errors_per_s, 1);
  setValue("inflight", g.in_flight, 0);
  remember("rate", g.lookups_per_s);
  remember("p99", g.latency.p99_ms);
  spark("rate-spark", series.rate);
  spark("p99-spark", series.p99);

  rows("statuses", g.statuses.length ? g.statuses.map((s) =>
    el("tr", { "data-status": s.status },
      el("td", { class: `status-${s.status[0]}` }, s.status),
      el("td", { class: "num" }, number(s.per_s, 2)),
      el("td", { class: "num" }, number(s.total)))) : [el("tr", {}, el("td", { colspan: "3", class: "muted" }, "no lookups yet"))]);
  const shed = Object.entries(g.shed_total).map(([k, v]) => `${k} ${v}`).join(", ");
  const dropped = Object.entries(g.dropped_replies_total).map(([k, v]) => `${k} ${v}`).join(", ");
  $("#shed").textContent = `Shed since start: ${shed}. Dropped replies: ${dropped}. ` +
    `Hedges sent: ${number(g.hedges_sent_total)}, won: ${number(g.hedges_won_total)}.`;

  const store = summary.store;
  setValue("rows-open", store ? store.rows_open : null, 0);
  setValue("rows-closed", store ? store.rows_closed : null, 0);

  const r = summary.responder;
  if (r) {
    const replies = Object.entries(r.replies_total).map(([k, v]) => `${k} ${number(v)}`).join(", ") || "none";
    rows("responder", [
      el("tr", {}, el("td", {}, "requests consumed / s"), el("td", { class: "num", id: "responder-rate" }, number(r.requests_per_s, 1))),
      el("tr", {}, el("td", {}, "expired (skipped)"), el("td", { class: "num", id: "expired" }, number(r.expired_total))),
      el("tr", {}, el("td", {}, "dead letters (DLQ)"), el("td", { class: "num", id: "dlq" }, number(r.dead_letters_total))),
      el("tr", {}, el("td", {}, "consumer lag, total"), el("td", { class: "num", id: "lag-total" }, number(r.lag_total))),
      el("tr", {}, el("td", {}, "replies by status"), el("td", { class: "num" }, replies)),
    ]);
    const partitions = Object.entries(r.consumer_lag);
    rows("lag", partitions.length ? partitions.map(([p, behind]) =>
      el("tr", { "data-partition": p }, el("td", {}, p), el("td", { class: "num" }, number(behind)))) :
      [el("tr", {}, el("td", { colspan: "2", class: "muted" }, "no partitions assigned yet"))]);
  } else {
    rows("responder", [el("tr", {}, el("td", { class: "muted" }, "no responder metrics (peer down or not configured)"))]);
    rows("lag", [el("tr", {}, el("td", { colspan: "2", class: "muted" }, "unknown"))]);
  }

  rows("peers", [
    el("tr", {}, el("td", {}, el("span", { class: "dot up" }), "gateway"), el("td", { class: "small muted" }, "this process")),
    ...summary.peers.map((p) => el("tr", { "data-peer": p.name, "data-up": String(p.up) },
      el("td", {}, el("span", { class: `dot ${p.up ? "up" : "down"}` }), p.name, p.up ? "" : " (down)"),
      el("td", { class: "small muted" }, p.up ? p.url : `${p.url}: ${p.error}`))),
  ]);

  seq += 1;
  const at = new Date(summary.generated_at);
  $("#updated").textContent = `updated ${at.toLocaleTimeString("en-GB")} · refresh #${seq}`;
  $("#updated").dataset.seq = String(seq);
  $("#window").textContent = summary.window_s === null ? "warming up: rates need two samples" :
    `rates over the last ${summary.window_s.toFixed(1)} s`;
  $("#live").textContent = "● live";
  $("#live").className = "live";
}

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch("/ops/summary", { cache: "no-store", signal: controller.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (err) {
    $("#live").textContent = `● stale: ${err.message || err}`;
    $("#live").className = "stale";
  } finally {
    clearTimeout(timer);
    setTimeout(poll, REFRESH_MS);
  }
}

document.addEventListener("DOMContentLoaded", poll);
