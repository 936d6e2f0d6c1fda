// Convoy bookings: every convoy booked for a departure window in this run, its hold window at
// each junction (UTC where the service has a clock, else traffic time), the vehicles expected
// to wait for it and the peaks it falls in; quotes and refusals below; and a timeline of the
// holds per junction. Read from GET /convoys/plans and GET /convoys every few seconds.

import { Api, login, loadToken } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const REFRESH_MS = 2000;
const api = new Api((message) => showLogin(message));
let timer = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

/** A time as "HH:MM:SS UTC" when the service gave one, else as traffic seconds. */
function when(utc, s) {
  if (utc) return new Date(utc).toISOString().slice(11, 19) + " UTC";
  return `t=${Math.round(s)} s`;
}

function windowText(p) {
  return `${when(p.window_start_utc, p.window_start_s)} – ${when(p.window_end_utc, p.window_end_s)}`;
}

function showLogin(message) {
  if (timer) clearInterval(timer);
  timer = null;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.textContent = message || "";
  err.hidden = !message;
  $("#login-key").focus();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await login($("#login-key").value.trim());
    $("#login-key").value = "";
    $("#login").hidden = true;
    start();
  } catch (e) {
    $("#login-error").textContent = e.plain || e.message;
    $("#login-error").hidden = false;
  }
});

function start() {
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

async function refresh() {
  let plans, convoys;
  try {
    [plans, convoys] = await Promise.all([api.get("/convoys/plans"), api.get("/convoys")]);
  } catch (e) {
    if (e.status === 401) return;
    $("#error").textContent = e.plain || e.message;
    $("#error").hidden = false;
    return;
  }
  $("#error").hidden = true;
  const stateOf = new Map(convoys.map((c) => [c.request_id, c.state]));
  const booked = plans.filter((p) => p.state === "confirmed");
  renderBooked(booked, stateOf);
  renderTimeline(booked);
  renderOthers(plans.filter((p) => p.state !== "confirmed"));
  document.body.dataset.refreshed = String(Date.now());
}

function renderBooked(booked, stateOf) {
  const body = $("#booked tbody");
  body.replaceChildren(
    ...booked.map((p) => {
      const state = stateOf.get(p.request_id) || "unknown";
      const holds = el(
        "ul", { class: "bk-holds" },
        ...p.junctions.map((j) =>
          el("li", { "data-signal-id": j.signal_id },
            `${j.signal_id} ${when(j.hold_from_utc, j.hold_from_s)} – ${when(j.hold_to_utc, j.hold_to_s)}`),
        ),
      );
      const peaks = p.junctions.filter((j) => j.peaks.length).map((j) => `${j.signal_id}: ${j.peaks.join("; ")}`);
      return el(
        "tr", { class: "bk-row", "data-plan-id": p.plan_id, "data-request-id": p.request_id || "" },
        el("td", { class: "bk-convoy" }, p.convoy_id),
        el("td", {}, p.incident_id),
        el("td", { class: "bk-window" }, windowText(p)),
        el("td", { class: `bk-state bk-state-${state}` }, state),
        el("td", {}, holds),
        el("td", { class: "bk-held" }, p.expected_vehicles_held.toFixed(1)),
        el("td", { class: "bk-peak" }, peaks.join(" | ") || "–"),
      );
    }),
  );
  $("#booked-count").textContent = booked.length ? `(${booked.length})` : "";
  $("#booked-empty").hidden = booked.length > 0;
}

function renderTimeline(booked) {
  const box = $("#timeline");
  const holds = booked.flatMap((p) => p.junctions.map((j) => ({ p, j })));
  if (!holds.length) {
    box.replaceChildren();
    return;
  }
  const t0 = Math.min(...holds.map((h) => h.j.hold_from_s));
  const t1 = Math.max(...holds.map((h) => h.j.hold_to_s));
  const span = Math.max(t1 - t0, 1);
  const signals = [...new Set(holds.map((h) => h.j.signal_id))].sort();
  const rows = signals.map((sid) => {
    const track = el("div", { class: "tl-track" });
    for (const { p, j } of holds.filter((h) => h.j.signal_id === sid)) {
      const bar = el("div", {
        class: "tl-bar" + (j.peaks.length ? " tl-peak" : ""),
        "data-plan-id": p.plan_id,
        "data-signal-id": sid,
        title: `${p.convoy_id} at ${sid}: ${when(j.hold_from_utc, j.hold_from_s)} – ${when(j.hold_to_utc, j.hold_to_s)}, ` +
          `${j.expected_vehicles_held.toFixed(1)} vehicles held`,
      });
      bar.style.left = `${((j.hold_from_s - t0) / span) * 100}%`;
      bar.style.width = `${Math.max(((j.hold_to_s - j.hold_from_s) / span) * 100, 0.5)}%`;
      track.append(bar);
    }
    return el("div", { class: "tl-row" }, el("span", { class: "tl-label" }, sid), track);
  });
  const first = holds.find((h) => h.j.hold_from_s === t0).j;
  const last = holds.find((h) => h.j.hold_to_s === t1).j;
  const axis = el("div", { class: "tl-axis" },
    el("span", {}, when(first.hold_from_utc, t0)), el("span", {}, when(last.hold_to_utc, t1)));
  box.replaceChildren(...rows, axis);
}

function renderOthers(others) {
  $("#others tbody").replaceChildren(
    ...others.map((p) =>
      el(
        "tr", { class: "bk-other", "data-plan-id": p.plan_id, "data-state": p.state },
        el("td", {}, p.plan_id),
        el("td", {}, p.convoy_id),
        el("td", { class: `bk-state bk-state-${p.state}` }, p.state),
        el("td", {}, windowText(p)),
        el("td", { class: "bk-why" }, p.reason ||
          (p.conflicts.length ? `clashes with ${[...new Set(p.conflicts.map((c) => c.booking_id))].join(", ")}` : "–")),
      ),
    ),
  );
  $("#other-count").textContent = others.length ? `(${others.length})` : "";
}

if (loadToken()) start();
else showLogin("");
