// The dashboard: sign in, draw the network, follow the live feed, and act through the API
// (requests for dispatchers, strategies for operators). Everything shown comes from the same
// authenticated API any client uses; what the role may not do is hidden, and refused anyway.

import { Api, ApiError, clearToken, loadToken, login, may } from "./api.js";
import { Feed } from "./feed.js";
import { NetMap, statusClass } from "./map.js";
import { pedestrianSummary } from "./pedestrians.js";
import { PublicLayer } from "./public_layer.js";
import { RequestForm } from "./request_form.js";
import { RequestLog } from "./request_log.js";
import { cells, para, table } from "./dom.js";

const $ = (sel) => document.querySelector(sel);
const TERMINAL = new Set(["completed", "cancelled", "expired", "rejected"]);
const MAX_FINISHED = 25; // finished requests kept in the list (the rest are in GET /priority-requests)

const state = {
  role: null,
  principal: null,
  signals: new Map(),
  strategies: new Map(),
  held: new Set(),
  recovering: new Set(),
  peds: new Map(), // signal id -> people waiting at its crossings (counts)
  requests: new Map(), // request id -> request (insertion order = last change)
  nowS: 0,
  health: null,
  lastMsgAt: 0,
  feedState: "offline",
  feedDetail: "",
  focus: null,
  selected: null,
  geometry: null,
  dirty: { requests: false, corridors: false },
};

const api = new Api(expired);
const map = new NetMap($("#map"), {
  signalClick: (id) => inspect(id),
  pick: (at) => requestForm.picked(at),
  hover: (text, x, y) => hover(text, x, y),
});
const publicView = new PublicLayer(map, {
  layer: $("#layer-public"),
  card: $("#card-public"),
  list: $("#public-alerts"),
  count: $("#public-count"),
  status: $("#public-status"),
  button: $("#toggle-public"),
});
const feed = new Feed(() => api.token, {
  message: onMessage,
  status: (s, detail) => setFeedState(s, detail),
  unauthorized: (detail) => expired(detail),
});

// -- sign in / out ----------------------------------------------------------------------------
function showLogin(message) {
  $("#login").hidden = false;
  const err = $("#login-error");
  err.textContent = message || "";
  err.hidden = !message;
  $("#login-key").value = "";
  $("#login-key").focus();
}

function expired(message) {
  feed.stop();
  clearToken();
  setFeedState("offline", "signed out");
  showLogin(message);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("#login-key").value.trim();
  const btn = $("#login-submit");
  btn.disabled = true;
  $("#login-error").hidden = true;
  try {
    await login(key);
    $("#login-key").value = "";
    $("#login").hidden = true;
    await start();
  } catch (e) {
    $("#login-error").textContent = e instanceof ApiError ? e.plain : String(e);
    $("#login-error").hidden = false;
  } finally {
    btn.disabled = false;
  }
});

$("#logout").addEventListener("click", () => {
  feed.stop();
  clearToken();
  state.role = null;
  applyRole();
  setFeedState("offline", "signed out");
  showLogin("");
});

async function start() {
  try {
    if (!state.geometry) {
      state.geometry = await api.get("/network/geometry");
      map.load(state.geometry);
      publicView.setGeometry(state.geometry);
      requestForm.setGeometry(state.geometry);
      document.body.dataset.signals = String(state.geometry.signals.length);
    }
  } catch (e) {
    if (e.status !== 401) banner("Could not load the network: " + (e.plain || e.message));
    return;
  }
  feed.stop();
  feed.start();
}

// -- feed -------------------------------------------------------------------------------------
function setFeedState(s, detail) {
  state.feedState = s;
  state.feedDetail = detail || "";
  const pill = $("#conn");
  pill.textContent = s;
  pill.dataset.state = s;
  pill.className = "pill " + (s === "live" ? "pill-live" : s === "offline" ? "pill-off" : "pill-wait");
  pill.title = detail || "live feed";
  $("#h-feed").textContent = detail ? `${s} — ${detail}` : s;
}

function onMessage(msg) {
  state.lastMsgAt = Date.now();
  switch (msg.type) {
    case "hello":
      state.role = msg.role;
      state.principal = msg.principal;
      applyRole();
      break;
    case "snapshot":
      applySnapshot(msg);
      break;
    case "update":
      applyUpdate(msg);
      break;
    case "error":
      banner(`Live feed: ${msg.error}: ${msg.detail}`);
      break;
    default:
      break;
  }
}

function applySnapshot(msg) {
  state.signals = new Map(Object.entries(msg.signals || {}));
  state.strategies = new Map(Object.entries(msg.strategies || {}));
  state.held = new Set(msg.held || []);
  state.recovering = new Set(msg.recovering || []);
  state.peds = new Map(Object.entries(msg.pedestrians || {}));
  state.nowS = msg.time_s;
  state.requests.clear();
  for (const r of msg.requests || []) state.requests.set(r.request_id, r);
  trimRequests();
  const present = new Set(Object.keys(msg.vehicles || {}));
  for (const id of map.vehicleIds()) if (!present.has(id)) map.removeVehicle(id);
  for (const [id, v] of Object.entries(msg.vehicles || {})) map.setVehicle(id, v);
  for (const [sid, st] of state.signals) map.setSignal(sid, st, state.held.has(sid), state.recovering.has(sid));
  applyLanes(msg.lanes, true);
  if (msg.health) state.health = msg.health;
  state.dirty.requests = state.dirty.corridors = true;
  schedule();
}

function applyUpdate(msg) {
  state.nowS = msg.time_s;
  const touched = new Set();
  for (const [sid, st] of Object.entries(msg.signals || {})) {
    state.signals.set(sid, st);
    touched.add(sid);
  }
  for (const [sid, s] of Object.entries(msg.strategies || {})) {
    state.strategies.set(sid, s);
    touched.add(sid);
  }
  for (const [sid, p] of Object.entries(msg.pedestrians || {})) {
    state.peds.set(sid, p);
    touched.add(sid);
  }
  if (msg.held) {
    for (const sid of state.held) touched.add(sid);
    state.held = new Set(msg.held);
    for (const sid of state.held) touched.add(sid);
  }
  if (msg.recovering) {
    for (const sid of state.recovering) touched.add(sid);
    state.recovering = new Set(msg.recovering);
    for (const sid of state.recovering) touched.add(sid);
  }
  for (const sid of touched) map.setSignal(sid, state.signals.get(sid), state.held.has(sid), state.recovering.has(sid));
  for (const [id, v] of Object.entries(msg.vehicles || {})) map.setVehicle(id, v);
  for (const id of msg.gone_vehicles || []) map.removeVehicle(id);
  applyLanes(msg.lanes, false);
  if (msg.requests && msg.requests.length) {
    for (const r of msg.requests) {
      state.requests.delete(r.request_id); // re-insert: most recently changed last
      state.requests.set(r.request_id, r);
    }
    trimRequests();
    state.dirty.requests = true;
  }
  if (msg.health) state.health = msg.health;
  state.dirty.corridors = true; // ETAs count down with the clock
  if (state.selected && touched.has(state.selected)) refreshInspectorLive();
  schedule();
}

/** Lane loads, if the feed carries them: {lane: 0..1} or {lane: {occupancy, queue_share}}. */
function applyLanes(lanes, whole) {
  if (!lanes) return;
  for (const [id, v] of Object.entries(lanes)) {
    const load = typeof v === "number" ? v : v && (v.occupancy ?? v.queue_share ?? v.load);
    map.setLaneLoad(id, load);
  }
  if (whole) document.body.dataset.laneLoads = "1";
}

function trimRequests() {
  const finished = [...state.requests.values()].filter((r) => TERMINAL.has(r.state) && r.junctions.length === 0);
  for (const r of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED))) state.requests.delete(r.request_id);
}

let frame = 0;
function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

function render() {
  frame = 0;
  $("#simclock").textContent = `t = ${fmtClock(state.nowS)}`;
  if (state.dirty.corridors) {
    state.dirty.corridors = false;
    const shown = [...state.requests.values()].filter((r) => !TERMINAL.has(r.state) || r.junctions.length);
    map.setCorridors(shown, state.nowS, state.focus);
  }
  if (state.dirty.requests) {
    state.dirty.requests = false;
    renderRequests();
  } else {
    renderEtas();
  }
  renderHealth();
}

// -- requests ----------------------------------------------------------------------------------
const rows = new Map(); // request id -> {li, parts}

function canCancel(r) {
  if (TERMINAL.has(r.state)) return false;
  if (may(state.role, "priority.cancel_any")) return true;
  return may(state.role, "priority.request") && r.owner === state.principal;
}

function renderRequests() {
  const list = $("#requests");
  const ordered = [...state.requests.values()].reverse(); // newest change first
  const live = ordered.filter((r) => !TERMINAL.has(r.state));
  const done = ordered.filter((r) => TERMINAL.has(r.state));
  const all = [...live, ...done];
  $("#req-count").textContent = all.length ? `${live.length} active · ${done.length} recent` : "";
  $("#requests-empty").hidden = all.length > 0;
  const keep = new Set(all.map((r) => r.request_id));
  for (const [rid, row] of rows) {
    if (!keep.has(rid)) {
      row.li.remove();
      rows.delete(rid);
    }
  }
  all.forEach((r, i) => {
    let row = rows.get(r.request_id);
    if (!row) {
      row = makeRow(r);
      rows.set(r.request_id, row);
    }
    updateRow(row, r);
    if (list.children[i] !== row.li) list.insertBefore(row.li, list.children[i] || null);
  });
}

function makeRow(r) {
  const li = document.createElement("li");
  li.className = "req";
  li.dataset.requestId = r.request_id;
  li.innerHTML = `
    <div class="req-head">
      <span class="req-vehicle"></span>
      <span class="badge req-role"></span>
      <span class="req-state"></span>
      <span class="spacer"></span>
      <button type="button" class="btn-small req-log" title="what the audit log says was done for it">Log</button>
      <button type="button" class="btn-small btn-danger req-cancel">Cancel</button>
    </div>
    <div class="req-meta muted"></div>
    <ol class="req-junctions"></ol>
    <p class="error req-error" role="alert" hidden></p>`;
  const parts = {
    vehicle: li.querySelector(".req-vehicle"),
    role: li.querySelector(".req-role"),
    state: li.querySelector(".req-state"),
    cancel: li.querySelector(".req-cancel"),
    log: li.querySelector(".req-log"),
    meta: li.querySelector(".req-meta"),
    junctions: li.querySelector(".req-junctions"),
    error: li.querySelector(".req-error"),
  };
  li.addEventListener("click", (ev) => {
    if (ev.target.closest("button") || ev.target.closest("[data-signal-id]")) return;
    state.focus = state.focus === r.request_id ? null : r.request_id;
    for (const row of rows.values()) row.li.classList.toggle("focus", row.li.dataset.requestId === state.focus);
    state.dirty.corridors = true;
    schedule();
  });
  parts.cancel.addEventListener("click", () => cancelRequest(r.request_id, parts));
  parts.log.addEventListener("click", () => requestLog.show(r.request_id));
  return { li, parts, key: "" };
}

function updateRow(row, r) {
  const p = row.parts;
  p.vehicle.textContent = r.vehicle_id;
  p.role.textContent = r.role;
  p.role.dataset.role = r.role;
  p.state.textContent = r.state;
  p.state.className = "req-state state-" + r.state;
  row.li.dataset.state = r.state;
  p.meta.textContent = `incident ${r.incident_id} · by ${r.owner} · ${r.request_id}${r.simulated ? " · twin" : ""}`;
  p.cancel.hidden = !canCancel(r);
  p.log.hidden = !may(state.role, "audit.read");
  const key = r.junctions.map((j) => j.signal_id + j.status).join(",");
  if (key !== row.key) {
    row.key = key;
    p.junctions.replaceChildren(...r.junctions.map((j) => {
      const li = document.createElement("li");
      li.dataset.signalId = j.signal_id;
      li.className = "jstat jstat-" + statusClass(j.status);
      li.title = "inspect " + j.signal_id;
      li.addEventListener("click", () => inspect(j.signal_id));
      const name = document.createElement("b");
      name.textContent = j.signal_id;
      const st = document.createElement("span");
      st.className = "jstat-status";
      st.textContent = j.status;
      const eta = document.createElement("span");
      eta.className = "jstat-eta";
      li.append(name, st, eta);
      return li;
    }));
  }
  row.req = r;
  fillEtas(row);
}

function fillEtas(row) {
  const r = row.req;
  const items = row.parts.junctions.children;
  r.junctions.forEach((j, i) => {
    const eta = items[i]?.querySelector(".jstat-eta");
    if (!eta) return;
    let text = "";
    if (j.eta_s != null && j.status !== "recovering") {
      const dt = j.eta_s - state.nowS;
      text = dt >= 0 ? `ETA ${dt.toFixed(0)} s` : "due";
    }
    if (eta.textContent !== text) eta.textContent = text;
  });
}

function renderEtas() {
  for (const row of rows.values()) if (row.req && !TERMINAL.has(row.req.state)) fillEtas(row);
}

async function cancelRequest(rid, parts) {
  parts.cancel.disabled = true;
  parts.error.hidden = true;
  try {
    const r = await api.del(`/priority-requests/${encodeURIComponent(rid)}`);
    state.requests.delete(rid);
    state.requests.set(rid, r);
    state.dirty.requests = state.dirty.corridors = true;
    schedule();
  } catch (e) {
    parts.error.textContent = e.plain || e.message;
    parts.error.hidden = false;
  } finally {
    parts.cancel.disabled = false;
  }
}

// -- creating a request (the form itself is request_form.js) -------------------------------------
const requestForm = new RequestForm($("#create-form"), { api, map, created, $ });
const requestLog = new RequestLog($("#card-request-log"), { api });

function created(r) {
  const { history: _h, ...shown } = r;
  state.requests.delete(r.request_id);
  state.requests.set(r.request_id, { ...shown, junctions: r.junctions });
  state.focus = r.request_id;
  state.dirty.requests = state.dirty.corridors = true;
  schedule();
}

// -- junction inspector -------------------------------------------------------------------------
let inspectSeq = 0;

async function inspect(sid) {
  state.selected = sid;
  map.select(sid);
  const seq = ++inspectSeq;
  $("#insp-title").textContent = sid;
  const box = $("#inspector");
  box.replaceChildren(note("Loading…"));
  const enc = encodeURIComponent(sid);
  try {
    const [model, live] = await Promise.all([api.get(`/junctions/${enc}`), api.get(`/junctions/${enc}/state`)]);
    if (seq !== inspectSeq) return;
    box.replaceChildren(...inspectorBody(model, live));
    refreshInspectorLive();
    if (may(state.role, "audit.read")) loadAudit(sid, seq);
  } catch (e) {
    if (seq === inspectSeq) box.replaceChildren(errorP(e.plain || e.message));
  }
}

function inspectorBody(model, live) {
  const out = [];
  const facts = document.createElement("dl");
  facts.className = "facts";
  const add = (k, v, id) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    if (id) dd.id = id;
    if (v instanceof Node) dd.append(v); else dd.textContent = v;
    facts.append(dt, dd);
  };
  add("Junctions", model.junction_ids.join(", "));
  add("Links", String(model.link_count));
  add("Mode", "–", "insp-mode");
  add("Strategy", live.strategy || "–", "insp-strategy");
  add("State", stateChars(live.state || ""), "insp-state");
  if (live.pedestrians) add("Pedestrians", pedestrianSummary(state.peds.get(live.signal_id) || live.pedestrians), "insp-peds");
  out.push(facts);

  if (may(state.role, "plans.change")) {
    const f = document.createElement("form");
    f.className = "row strategy-form";
    f.innerHTML = `<label>Normal strategy <select name="strategy">
        <option value="fixed-time">fixed-time</option>
        <option value="max-pressure">max-pressure</option>
        <option value="actuated">actuated</option></select></label>
      <button type="submit" class="btn-small btn-primary">Apply</button>`;
    const msg = document.createElement("p");
    msg.className = "error";
    msg.hidden = true;
    f.strategy.value = live.strategy || "fixed-time";
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      const btn = f.querySelector("button");
      btn.disabled = true;
      try {
        const r = await api.put(`/junctions/${encodeURIComponent(model.id)}/strategy`, { strategy: f.strategy.value });
        state.strategies.set(r.signal_id, r.strategy);
        refreshInspectorLive();
        msg.className = "ok";
        msg.textContent = r.changed ? `${r.signal_id} now runs ${r.strategy}.` : `${r.signal_id} already ran ${r.strategy}.`;
      } catch (e) {
        msg.className = "error";
        msg.textContent = e.plain || e.message;
      } finally {
        msg.hidden = false;
        btn.disabled = false;
      }
    });
    out.push(f, msg);
  }

  if (live.requests.length) {
    out.push(h3("Priority requests here"));
    const ul = document.createElement("ul");
    ul.className = "plain";
    for (const r of live.requests) {
      const li = document.createElement("li");
      li.textContent = `${r.request_id}: ${r.status}${r.eta_s != null ? ` · ETA ${Math.max(0, r.eta_s - live.time_s).toFixed(0)} s` : ""}`;
      ul.append(li);
    }
    out.push(ul);
  }

  const prog = model.programs.find((p) => p.program_id === model.default_program_id) || model.programs[0];
  if (prog) {
    out.push(h3(`Program ${prog.program_id} (${prog.type}, cycle ${prog.cycle_s.toFixed(0)} s, offset ${prog.offset_s.toFixed(0)} s)`));
    const t = table(["#", "Duration", "Min–max", "State"]);
    t.id = "insp-phases";
    prog.phases.forEach((ph, i) => {
      const tr = t.tBodies[0].insertRow();
      tr.dataset.state = ph.state;
      cells(tr, [String(i), `${ph.duration_s.toFixed(0)} s`, ph.min_dur_s != null ? `${ph.min_dur_s.toFixed(0)}–${ph.max_dur_s?.toFixed(0) ?? "?"} s` : "–", stateChars(ph.state)]);
    });
    out.push(t);
  }

  const det = document.createElement("details");
  const sum = document.createElement("summary");
  sum.textContent = "Links and safety timings";
  det.append(sum);
  const lt = table(["#", "From → to", "Dir", "Min green", "Yellow", "Clearance"]);
  for (const l of model.links) {
    const tr = lt.tBodies[0].insertRow();
    cells(tr, [String(l.index), `${l.from_lane ?? "–"} → ${l.to_lane ?? "–"}`, l.is_crossing ? "crossing" : (l.direction ?? ""), `${l.min_green_s} s`, `${l.yellow_s} s`, `${l.clearance_s} s`]);
  }
  det.append(lt);
  out.push(det);

  if (may(state.role, "audit.read")) {
    out.push(h3("Recent audit records"));
    const a = document.createElement("div");
    a.id = "insp-audit";
    a.append(note("Loading…"));
    out.push(a);
  }
  return out;
}

function refreshInspectorLive() {
  const sid = state.selected;
  if (!sid || !$("#insp-state")) return;
  const st = state.signals.get(sid) || "";
  $("#insp-state").replaceChildren(stateChars(st));
  $("#insp-strategy").textContent = state.strategies.get(sid) || "–";
  const peds = state.peds.get(sid);
  if (peds && $("#insp-peds")) $("#insp-peds").replaceChildren(pedestrianSummary(peds));
  $("#insp-mode").textContent = state.held.has(sid) ? "held for a priority vehicle" : state.recovering.has(sid) ? "recovering" : "normal";
  for (const tr of document.querySelectorAll("#insp-phases tbody tr")) tr.classList.toggle("current", tr.dataset.state === st);
}

async function loadAudit(sid, seq) {
  const since = new Date(Date.now() - 15 * 60 * 1000).toISOString();
  let after = 0;
  let recs = [];
  try {
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams({ junction_id: sid, since, after_seq: String(after), limit: "500" });
      const res = await api.get(`/audit?${q}`);
      recs = recs.concat(res.records).slice(-12);
      if (res.next_after_seq == null) break;
      after = res.next_after_seq;
    }
    if (seq !== inspectSeq) return;
    const box = $("#insp-audit");
    if (!box) return;
    if (!recs.length) {
      box.replaceChildren(note("No records in the last 15 minutes."));
      return;
    }
    const t = table(["#", "Time", "Kind", "By", "What"]);
    for (const r of recs.reverse()) {
      const tr = t.tBodies[0].insertRow();
      const what = summary(r.payload);
      cells(tr, [String(r.seq), r.time.slice(11, 19), r.kind, r.principal || "–", what]);
      tr.title = JSON.stringify(r.payload);
    }
    box.replaceChildren(t);
  } catch (e) {
    const box = $("#insp-audit");
    if (box && seq === inspectSeq) box.replaceChildren(errorP(e.plain || e.message));
  }
}

function summary(payload) {
  const parts = [];
  for (const [k, v] of Object.entries(payload || {})) {
    if (v == null || typeof v === "object") continue;
    parts.push(`${k}=${v}`);
    if (parts.length >= 4) break;
  }
  return parts.join(" ");
}

// -- health, banner, helpers --------------------------------------------------------------------
function renderHealth() {
  const h = state.health;
  if (h) {
    $("#h-running").textContent = h.running ? "running" : "stopped";
    $("#h-running").className = h.running ? "ok" : "error";
    $("#h-tick").textContent = `${h.tick_ms.toFixed(1)} ms`;
    $("#h-flush").textContent = String(h.flush_failures);
    $("#h-flush").className = h.flush_failures ? "error" : "";
    const err = $("#h-error");
    err.hidden = !h.error;
    err.textContent = h.error ? "Runtime error: " + h.error : "";
  }
  $("#h-time").textContent = fmtClock(state.nowS);
  $("#h-signals").textContent = `${state.signals.size} / ${state.held.size} held · ${state.recovering.size} recovering`;
  renderLast();
}

function renderLast() {
  const text = state.lastMsgAt ? `${((Date.now() - state.lastMsgAt) / 1000).toFixed(0)} s ago` : "–";
  if ($("#h-last").textContent !== text) $("#h-last").textContent = text;
}
setInterval(renderLast, 1000);

function applyRole() {
  const role = state.role;
  $("#card-create").hidden = !may(role, "priority.request");
  $("#who").hidden = !role;
  $("#who").textContent = role ? `${state.principal} · ${role}` : "";
  $("#logout").hidden = !role;
  document.body.dataset.role = role || "";
  state.dirty.requests = true;
  for (const row of rows.values()) if (row.req) row.parts.cancel.hidden = !canCancel(row.req);
  if (state.selected) inspect(state.selected);
}

function banner(text) {
  $("#banner-text").textContent = text;
  $("#banner").hidden = false;
}
$("#banner-close").addEventListener("click", () => { $("#banner").hidden = true; });

function hover(text, x, y) {
  const box = $("#hover");
  if (!text) {
    box.hidden = true;
    return;
  }
  box.textContent = text;
  box.hidden = false;
  const r = box.parentElement.getBoundingClientRect();
  box.style.left = `${x - r.left + 14}px`;
  box.style.top = `${y - r.top + 14}px`;
}

function stateChars(s) {
  const span = document.createElement("span");
  span.className = "state-chars";
  for (const ch of s) {
    const c = document.createElement("i");
    c.textContent = ch;
    c.className = /[Gg]/.test(ch) ? "c-g" : /[yYuU]/.test(ch) ? "c-y" : /[oO]/.test(ch) ? "c-o" : "c-r";
    span.append(c);
  }
  return span;
}

function h3(text) {
  const h = document.createElement("h3");
  h.textContent = text;
  return h;
}

function note(text) {
  return para(text, "muted");
}

function errorP(text) {
  return para(text, "error");
}

function fmtClock(s) {
  if (!Number.isFinite(s)) return "–";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

$("#zoom-in").addEventListener("click", () => map.zoom(1 / 1.5));
$("#zoom-out").addEventListener("click", () => map.zoom(1.5));
$("#zoom-fit").addEventListener("click", () => map.fit());
new ResizeObserver(() => map.resized()).observe($("#map"));

// -- go ---------------------------------------------------------------------------------------------
applyRole();
if (loadToken()) {
  $("#login").hidden = true;
  start();
} else {
  showLogin("");
}
