// The status page: fetches /api/status and renders it. Every value from a
// payload goes into the page through textContent, never as markup.
"use strict";

const REFRESH_MS = 10000;
const SYMBOL = { clean: "✓", failed: "✗", empty: "∅", none: "·" };
const ALERTS_PER_PAGE = 100;
let page = 1;
let alertsPage = 1;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function cell(row, label, text, className) {
  const td = el("td", text === null || text === undefined || text === "" ? "—" : text, className);
  td.dataset.label = label;
  row.appendChild(td);
  return td;
}

function emptyRow(tbody, columns, text) {
  const row = el("tr");
  const td = el("td", text, "empty-note");
  td.colSpan = columns;
  row.appendChild(td);
  tbody.appendChild(row);
}

function renderTotals(totals) {
  const list = document.getElementById("totals");
  list.replaceChildren();
  const items = [
    [totals.firing, "firing"], [totals.pending, "pending"], [totals.silenced, "silenced"],
    [totals.quiet_connections, "quiet connections"], [totals.known_connections, "known connections"],
    [totals.outbox_depth, "waiting for delivery"],
  ];
  for (const [count, label] of items) {
    const li = el("li");
    li.appendChild(el("strong", count));
    li.appendChild(el("span", label));
    list.appendChild(li);
  }
}

function renderAlerts(alerts, paging) {
  const tbody = document.querySelector("#alerts tbody");
  tbody.replaceChildren();
  renderPages("alert-pages", paging, "alerts", (to) => { alertsPage = to; });
  if (alerts.length === 0) return emptyRow(tbody, 10, "No firing or pending alert.");
  for (const a of alerts) {
    const row = el("tr");
    cell(row, "Severity", a.severity.toUpperCase(), "sev-" + a.severity);
    cell(row, "State", a.state);
    cell(row, "Rule", a.rule);
    cell(row, "Business", a.business);
    cell(row, "Connection", a.data_type ? a.connection + " (" + a.data_type + ")" : a.connection);
    cell(row, "Service", a.service);
    cell(row, "Since", a.since);
    cell(row, "Failing syncs", a.failing_syncs);
    cell(row, "Last notified", a.last_notified || "never");
    // What covers it now; one that ended shows as such, greyed.
    cell(row, "Silenced by", a.silenced_by, a.silenced ? "silenced" : "silence-ended");
    tbody.appendChild(row);
  }
}

function strip(days) {
  const box = el("span", undefined, "strip");
  const words = [];
  for (const day of days) {
    const d = el("span", SYMBOL[day.outcome], "day day-" + day.outcome);
    d.title = day.date + " (UTC): " + day.outcome;
    d.setAttribute("aria-hidden", "true");
    box.appendChild(d);
    words.push(day.date + " " + day.outcome);
  }
  box.appendChild(el("span", "days in UTC: " + words.join(", "), "visually-hidden"));
  return box;
}

function renderConnections(connections) {
  const tbody = document.querySelector("#connections tbody");
  tbody.replaceChildren();
  if (connections.rows.length === 0) emptyRow(tbody, 7, "No known connection matches.");
  for (const c of connections.rows) {
    const row = el("tr");
    cell(row, "Connection", c.id);
    cell(row, "Business", c.business);
    cell(row, "Service", c.service);
    const state = c.firing.length ? c.state + " (" + c.firing.join(", ") + ")" : c.state;
    cell(row, "State", state, "state-" + c.state);
    cell(row, "Last sync", c.last_sync || "never");
    cell(row, "Last event", c.last_event);
    cell(row, "Last 14 days", "").replaceChildren(strip(c.days));
    tbody.appendChild(row);
  }
  renderPages("pages", connections, "connections", (to) => { page = to; });
}

// "Page 2 of 40 (4000 alerts)" with Previous and Next; `go` sets the page.
function renderPages(id, paging, noun, go) {
  const nav = document.getElementById(id);
  nav.replaceChildren();
  const pages = Math.max(1, Math.ceil(paging.total / paging.per_page));
  nav.appendChild(el("span", "Page " + paging.page + " of " + pages + " (" + paging.total + " " + noun + ") "));
  if (paging.page > 1) nav.appendChild(pageButton("Previous", () => go(paging.page - 1)));
  if (paging.page < pages) nav.appendChild(pageButton("Next", () => go(paging.page + 1)));
}

function pageButton(label, go) {
  const button = el("button", label);
  button.type = "button";
  button.addEventListener("click", () => { go(); refresh(); });
  return button;
}

function renderSilences(silences, windows) {
  const list = document.getElementById("silences");
  list.replaceChildren();
  for (const s of silences) {
    list.appendChild(el("li", "Silence " + s.id + " (" + (s.active ? "active" : "to come") + "): " +
      s.matchers + " until " + s.until + " — " + s.comment));
  }
  for (const w of windows) {
    list.appendChild(el("li", "Maintenance " + w.name + (w.open_now ? " (open now)" : "") + ": " +
      (w.weekdays.length ? w.weekdays.join(", ") : "every day") + " " + w.times.join(", ") + " " + w.timezone));
  }
  if (!list.children.length) list.appendChild(el("li", "No silence or maintenance window.", "empty-note"));
}

function renderNotifications(notifications) {
  const tbody = document.querySelector("#notifications tbody");
  tbody.replaceChildren();
  if (notifications.length === 0) return emptyRow(tbody, 7, "No notification yet.");
  for (const n of notifications) {
    const row = el("tr");
    cell(row, "When", n.at);
    cell(row, "Rule", n.kind ? `${n.kind} ${n.rule}` : n.rule);
    cell(row, "Channel", n.channel);
    cell(row, "Connection", n.connection);
    cell(row, "State", n.status);
    cell(row, "Attempts", n.attempts);
    cell(row, "Last error", n.last_error);
    tbody.appendChild(row);
  }
}

// One banner per firing outage: what an operator must read first.
function renderOutages(outages) {
  const box = document.getElementById("outages");
  box.replaceChildren();
  for (const o of outages || []) {
    const share = o.synced ? Math.round((100 * o.failing) / o.synced) : 0;
    // Its connections went quiet: nothing to count until it resolves.
    const counts = o.synced
      ? o.failing + " of " + o.synced + " connections failing (" + share + "%)"
      : "no connections synced in its window";
    let text = o.group + " outage (" + o.name + "): " + counts + " since " + o.since;
    if (o.holds) text += "; their alerts are held until it resolves";
    box.appendChild(el("p", text, "outage-banner"));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

// Per service, one bar per hour: the share of its syncs that failed. Drawn
// here (no library, no external asset); the same numbers as text for
// readers that cannot see it.
function renderCharts(charts) {
  const box = document.getElementById("charts");
  box.replaceChildren();
  if (!charts || charts.length === 0) return box.appendChild(el("p", "No sync in the last 24 hours.", "empty-note"));
  for (const chart of charts) {
    const figure = el("figure", undefined, "chart");
    const caption = el("figcaption", chart.service);
    const width = 24 * 12, height = 60;
    const image = svg("svg", { viewBox: "0 0 " + width + " " + (height + 2), width: width, height: height + 2, role: "img" });
    const hours = chart.hours.map((h) => ({ ...h, share: h.syncs ? h.failed / h.syncs : 0 }));
    const described = hours.filter((h) => h.syncs > 0)
      .map((h) => h.hour.slice(11, 16) + " " + Math.round(100 * h.share) + "% of " + h.syncs);
    const summary = chart.service + ", failing share per hour: " + (described.join(", ") || "no sync");
    image.setAttribute("aria-label", summary);
    image.appendChild(svg("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }));
    hours.forEach((h, i) => {
      const bar = Math.round(h.share * height);
      const rect = svg("rect", { x: i * 12 + 1, y: height - bar, width: 10, height: bar, class: "bar" });
      rect.appendChild(svg("title", {})).textContent = h.hour + ": " + h.failed + " of " + h.syncs + " failed";
      image.appendChild(rect);
    });
    figure.appendChild(caption);
    figure.appendChild(image);
    figure.appendChild(el("p", summary, "visually-hidden chart-text"));
    box.appendChild(figure);
  }
}

function filterValue() {
  return document.getElementById("filter").value.trim();
}

async function refresh() {
  const query = new URLSearchParams({
    page: String(page), alerts_page: String(alertsPage), alerts_per_page: String(ALERTS_PER_PAGE),
  });
  if (filterValue()) query.set("q", filterValue());
  try {
    const response = await fetch("/api/status?" + query.toString(), { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const status = await response.json();
    renderOutages(status.outages);
    renderCharts(status.failure_chart);
    renderTotals(status.totals);
    renderAlerts(status.alerts, status.alerts_paging);
    renderConnections(status.connections);
    renderSilences(status.silences, status.maintenance);
    renderNotifications(status.notifications);
    document.getElementById("updated").textContent = "updated " + status.generated_at;
  } catch (error) {
    document.getElementById("updated").textContent = "cannot load the status: " + error.message;
  }
}

function start() {
  const input = document.getElementById("filter");
  // The filter lives in the address (?q=), so a reload or a shared link keeps it.
  input.value = new URLSearchParams(location.search).get("q") || "";
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      page = 1;
      alertsPage = 1;
      const url = new URL(location.href);
      if (filterValue()) url.searchParams.set("q", filterValue()); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
      refresh();
    }, 250);
  });
  document.getElementById("filter-form").addEventListener("submit", (event) => event.preventDefault());
  refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
