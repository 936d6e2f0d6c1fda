// The "Buses" card: the buses a transit operator feeds (GET /transit/buses, every 2 s while
// signed in): line, trip, how late each runs, whether it is late enough for conditional
// priority (a green extension or an early green, never preemption), and the last green moved
// for it. Hidden while the service has no GTFS schedule (GET /transit/status). Fleet
// numbers and trips only: a bus in service is a public vehicle; no place is shown.

import { Api, loadToken } from "./api.js";

const EVERY_MS = 2000;

export class BusCard {
  constructor(card) {
    this.card = card;
    this.api = new Api(() => {}); // the app itself handles an expired session
    this.count = card.querySelector("#bus-count");
    this.body = card.querySelector("#buses tbody");
    this.table = card.querySelector("#buses");
    this.empty = card.querySelector("#buses-empty");
    this.error = card.querySelector("#buses-error");
    this.threshold = card.querySelector("#bus-threshold");
    this.live = card.querySelector("#bus-live");
    this.configured = null; // unknown until GET /transit/status answers
  }

  start() {
    this.poll();
    setInterval(() => this.poll(), EVERY_MS);
  }

  async poll() {
    if (!loadToken()) {
      this.card.hidden = true;
      return;
    }
    let buses;
    try {
      if (this.configured === null) {
        const st = await this.api.get("/transit/status");
        this.configured = st.configured;
        this.threshold.textContent = st.late_threshold_s.toFixed(0);
        this.live.textContent = st.live ? "" : " (the live loop does not act on the feed here)";
      }
      if (!this.configured) {
        this.card.hidden = true;
        return;
      }
      buses = await this.api.get("/transit/buses");
    } catch (e) {
      if (e.status === 503 || e.status === 401) {
        this.card.hidden = true; // no schedule configured, or signed out
        return;
      }
      this.card.hidden = false;
      this.error.textContent = e.plain || e.message;
      this.error.hidden = false;
      return;
    }
    this.error.hidden = true;
    this.card.hidden = false;
    this.render(buses);
  }

  render(buses) {
    const late = buses.filter((b) => b.qualifies).length;
    this.count.textContent = buses.length ? `${buses.length} · ${late} late enough` : "";
    this.empty.hidden = buses.length > 0;
    this.table.hidden = buses.length === 0;
    const rows = buses
      .slice()
      .sort((a, b) => b.lateness_s - a.lateness_s)
      .map((b) => this.row(b));
    this.body.replaceChildren(...rows);
  }

  row(b) {
    const tr = document.createElement("tr");
    tr.className = "bus";
    tr.dataset.vehicleId = b.vehicle_id;
    tr.dataset.qualifies = b.qualifies ? "1" : "0";
    tr.dataset.latenessS = String(b.lateness_s);
    const last = b.last_priority;
    if (last) tr.dataset.lastAction = last.action;
    const cells = [
      b.line_id || "–",
      b.vehicle_id,
      late(b.lateness_s),
      b.dwelling ? "at a stop" : b.qualifies ? "yes" : "no",
      last ? lastText(last) : "–",
    ];
    for (const v of cells) tr.insertCell().textContent = v;
    tr.title = `trip ${b.trip_id || "?"} on edge ${b.edge_id}`;
    return tr;
  }
}

function late(s) {
  if (s >= 0.5) return `+${s.toFixed(0)} s`;
  if (s <= -0.5) return `${s.toFixed(0)} s`;
  return "on time";
}

function lastText(p) {
  const what = p.action === "extend" ? "green extended" : "early green";
  const ago = Math.max(0, Date.now() / 1000 - p.time_s);
  return `${what} ${p.moved_s.toFixed(0)} s at ${p.junction_id}, ${ago.toFixed(0)} s ago`;
}

new BusCard(document.querySelector("#card-buses")).start();
