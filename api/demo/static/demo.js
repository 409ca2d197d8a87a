// The demo page: look a customer's journeys up through the public API, as a frontend would.
// Vanilla JS, no build step. Untrusted text only ever goes through textContent.
"use strict";

const ICONS = {
  email: "M2 6l10 7 10-7v12H2zM2 4h20l-10 7z",
  sms: "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
  push: "M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22zm7-6v-5a7 7 0 0 0-5-6.7V3a2 2 0 0 0-4 0v1.3A7 7 0 0 0 5 11v5l-2 2v1h18v-1z",
  web: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2c1 1.3 2 3.7 2 7h-4c0-3.3 1-5.7 2-7zm-2.6.5A15 15 0 0 0 8 11H4.1a8 8 0 0 1 5.3-6.5zm5.2 0A8 8 0 0 1 19.9 11H16a15 15 0 0 0-1.4-6.5zM4.1 13H8a15 15 0 0 0 1.4 6.5A8 8 0 0 1 4.1 13zm5.9 0h4c0 3.3-1 5.7-2 7-1-1.3-2-3.7-2-7zm6 0h3.9a8 8 0 0 1-5.3 6.5A15 15 0 0 0 16 13z",
  app: "M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm0 3v13h10V5zm5 14a1 1 0 1 0 0 2 1 1 0 0 0 0-2z",
};

const ERRORS = {
  0: ["Could not reach the gateway", "The request did not get an HTTP answer. Is the stack running?"],
  401: ["The API key was refused", "Check the X-API-Key field above."],
  404: ["No journeys for this customer", "Try the status filter “all”, or another customer."],
  422: ["The request is not valid", "Customer ids are 1-64 letters, digits, _ . - and start with a letter or digit."],
  429: ["The gateway is busy", "Too many lookups are in flight. Retry after the pause it asks for."],
  502: ["The gateway could not read the reply", "The responder sent something unexpected."],
  503: ["The service is unavailable", "Kafka or the journey store cannot answer right now. Retry shortly."],
  504: ["No answer in time", "The lookup passed its deadline. The responder may be down or overloaded."],
};

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function icon(channel) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[channel] || ICONS.web);
  path.setAttribute("fill-rule", "evenodd");
  svg.append(path);
  return svg;
}

function day(iso) {
  return iso ? iso.slice(0, 10) : "…";
}

function detailText(body) {
  if (!body || body.detail === undefined) return null;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return String(body.detail);
}

function card(journey) {
  const content = journey.content || {};
  const attributes = Object.entries(journey.attributes || {}).filter(([k]) => k !== "campaign");
  let image = null;
  if (content.image_url) {
    // Not loaded: the page fetches nothing from outside the gateway.
    image = el("div", { class: "image" }, "image: " + content.image_url.split("/").pop());
  }
  let cta = null;
  if (content.cta_url) {
    cta = el("a", { class: "cta", href: content.cta_url, target: "_blank", rel: "noopener noreferrer" },
      "Open offer →");
  }
  return el("article", { class: `card ${journey.status}`, "data-journey-id": journey.journey_id },
    el("div", { class: "row" },
      el("span", { class: `badge ${ICONS[journey.channel] ? journey.channel : "other"}`, title: "channel" },
        icon(journey.channel), journey.channel),
      el("span", { class: `pill ${journey.status}` }, journey.status),
      el("span", { class: "spacer" }),
      el("span", { class: "meta", title: "priority (lower is more important)" }, `priority ${journey.priority}`)),
    el("div", { class: "campaign" }, journey.campaign),
    el("h3", { class: "journey-name" }, journey.journey_name),
    el("div", { class: "meta", title: "journey_id and the API's step field" },
      `${journey.journey_id} · step=${journey.step}`),
    el("div", { class: "content" },
      el("div", { class: "title" }, content.title),
      content.body ? el("div", { class: "body" }, content.body) : null,
      image, cta),
    attributes.length ? el("div", { class: "attrs" },
      ...attributes.map(([k, v]) => el("span", {}, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`))) : null,
    el("div", { class: "meta" }, `valid ${day(journey.valid_from)} → ${day(journey.valid_to)}` +
      (journey.closed_at ? ` · closed ${day(journey.closed_at)}` : "")));
}

function resultLine(text, response, ms) {
  const parts = [el("span", { class: "count" }, text)];
  parts.push(el("span", {}, "round trip ", el("span", { class: "rtt", id: "rtt", "data-ms": ms.toFixed(3) },
    `${ms.toFixed(1)} ms`)));
  if (response) {
    parts.push(el("span", { class: "muted small", id: "http-status" }, `HTTP ${response.status}`));
    const correlation = response.headers.get("X-Correlation-Id");
    if (correlation) parts.push(el("span", { class: "muted small" }, "correlation id ", el("code", {}, correlation)));
  }
  return el("div", { class: "resultline" }, ...parts);
}

function showError(status, body, response, ms) {
  const [title, hint] = ERRORS[status] || [`HTTP ${status}`, "Unexpected answer from the gateway."];
  const retry = response ? response.headers.get("Retry-After") : null;
  const detail = detailText(body);
  const box = el("div", { class: status === 404 ? "alert warn" : "alert", role: "alert", id: "error",
    "data-status": String(status) },
    el("strong", {}, status ? `${status} · ${title}` : title),
    detail ? el("div", {}, detail) : null,
    el("div", { class: "small muted" }, hint + (retry ? ` (Retry-After: ${retry} s)` : "")));
  $("#result").replaceChildren(resultLine(status ? "Lookup failed" : "No answer", response, ms), box);
}

let sequence = 0;

async function lookup() {
  const customer = $("#customer").value.trim();
  const status = document.querySelector('input[name="status"]:checked').value;
  const key = $("#apikey").value.trim();
  if (!customer) {
    $("#result").replaceChildren(el("div", { class: "alert warn", role: "alert" }, "Type or pick a customer id."));
    return;
  }
  const mine = ++sequence;
  const url = `/v1/customers/${encodeURIComponent(customer)}/journeys?status=${status}`;
  const headers = key ? { "X-API-Key": key } : {};
  history.replaceState(null, "", `/?customer=${encodeURIComponent(customer)}&status=${status}`);
  $("#go").disabled = true;
  let response = null;
  let body = null;
  // The round trip a frontend would see: request out, whole JSON body in and parsed.
  const started = performance.now();
  try {
    response = await fetch(url, { headers, cache: "no-store" });
    body = await response.json().catch(() => null);
  } catch (err) {
    response = null;
  }
  const ms = performance.now() - started;
  if (mine !== sequence) return; // a newer lookup is on its way
  $("#go").disabled = false;
  if (!response || !response.ok) {
    showError(response ? response.status : 0, body, response, ms);
    return;
  }
  const journeys = body.journeys || [];
  const noun = journeys.length === 1 ? "journey" : "journeys";
  const filter = status === "all" ? "" : `${status} `;
  $("#result").replaceChildren(
    resultLine(`${journeys.length} ${filter}${noun} for ${body.customer_id}`, response, ms),
    el("div", { class: "cards", id: "cards" }, ...journeys.map(card)));
}

async function start() {
  const params = new URLSearchParams(location.search);
  let config = { api_key: null, examples: [] };
  try {
    const response = await fetch("/demo/config", { cache: "no-store" });
    if (response.ok) config = await response.json();
  } catch (err) {
    // Without the config the page still works with a typed id and key.
  }
  for (const example of config.examples) {
    $("#example").append(el("option", { value: example.customer_id }, example.label));
    $("#examples").append(el("option", { value: example.customer_id }));
  }
  if (config.api_key) {
    $("#apikey").value = config.api_key;
    $("#keynote").textContent = "Pre-filled with the embedded stack's demo key " +
      "(JOURNEYS_GATEWAY_DEMO_API_KEY). A production gateway never serves a key.";
  } else {
    $("#keynote").textContent = "Paste one of this gateway's API keys (JOURNEYS_GATEWAY_API_KEYS).";
  }
  if (params.get("customer")) $("#customer").value = params.get("customer");
  const wanted = params.get("status");
  if (wanted && document.getElementById(`status-${wanted}`)) document.getElementById(`status-${wanted}`).checked = true;

  $("#lookup").addEventListener("submit", (event) => { event.preventDefault(); lookup(); });
  $("#example").addEventListener("change", () => {
    if (!$("#example").value) return;
    $("#customer").value = $("#example").value;
    lookup();
  });
  for (const radio of document.querySelectorAll('input[name="status"]')) radio.addEventListener("change", lookup);
  if ($("#apikey").value) lookup();
}

document.addEventListener("DOMContentLoaded", start);
