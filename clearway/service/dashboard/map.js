// The network map: an SVG drawn from the network's own geometry (network metres, y flipped),
// with pan and zoom on its viewBox. Every live element is created once and updated in place,
// keyed by id; vehicles that leave are removed, so the page does not grow over hours.

const NS = "http://www.w3.org/2000/svg";
const STATUS_RANK = { granted: 5, processing: 4, requested: 3, watchOtherTraffic: 2, rejected: 1, recovering: 0 };

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function pathD(shape) {
  return shape.map(([x, y], i) => `${i ? "L" : "M"}${x},${-y}`).join("");
}

/** What a movement's character in a SUMO state string means. */
function lightClass(chars) {
  if (/[Gg]/.test(chars)) return "light-green";
  if (/[yY]/.test(chars)) return "light-yellow";
  if (/[uU]/.test(chars)) return "light-yellow";
  if (/[oO]/.test(chars)) return "light-off";
  return "light-red";
}

/** A corridor status as the map colours it. */
export function statusClass(status) {
  if (status === "granted") return "granted";
  if (status === "recovering") return "recovering";
  if (status === "rejected") return "rejected";
  return "pending"; // requested, processing, watchOtherTraffic
}

export class NetMap {
  constructor(svg, on) {
    this.svg = svg;
    this.on = on; // signalClick(id), pick({x_m, y_m, edgeId, laneId, shiftKey}), hover(text|null, x, y)
    this.layers = {};
    for (const name of ["basemap", "junctions", "lanes", "corridors", "stoplines", "signals", "picks", "vehicles", "labels"]) {
      this.layers[name] = svg.querySelector("#layer-" + name);
    }
    this.lanes = new Map(); // lane id -> path
    this.lanesOfEdge = new Map(); // edge id -> [lane]
    this.signals = new Map(); // signal id -> {g, circle, label, stops: [{lane, idx[], line}], junctions: [polygon]}
    this.vehicles = new Map(); // vehicle id -> {g, label}
    this.corridors = new Map(); // request id -> {g, key}
    this.picks = new Map();
    this.view = null;
    this.home = null;
    this.selected = null;
    this.pickMode = null;
    this.nowS = 0;
    this.wireInput();
  }

  load(geo) {
    for (const layer of Object.values(this.layers)) layer.replaceChildren();
    this.lanes.clear();
    this.lanesOfEdge.clear();
    this.signals.clear();
    this.vehicles.clear();
    this.corridors.clear();
    this.picks.clear();
    const laneEnd = new Map();
    const polysBySignal = new Map();
    for (const j of geo.junctions) {
      if (j.shape.length < 3) continue;
      const poly = el("polygon", {
        class: "junction" + (j.signal_id ? " signalised" : ""),
        points: j.shape.map(([x, y]) => `${x},${-y}`).join(" "),
        "data-junction-id": j.id,
      }, this.layers.junctions);
      if (j.signal_id) {
        poly.addEventListener("click", (ev) => {
          ev.stopPropagation();
          if (!this.dragged) this.on.signalClick(j.signal_id);
        });
        if (!polysBySignal.has(j.signal_id)) polysBySignal.set(j.signal_id, []);
        polysBySignal.get(j.signal_id).push(poly);
      }
    }
    for (const lane of geo.lanes) {
      if (lane.shape.length < 2) continue;
      const p = el("path", {
        class: "lane",
        d: pathD(lane.shape),
        "data-lane-id": lane.id,
        "data-edge-id": lane.edge_id,
      }, this.layers.lanes);
      this.lanes.set(lane.id, p);
      if (!this.lanesOfEdge.has(lane.edge_id)) this.lanesOfEdge.set(lane.edge_id, []);
      this.lanesOfEdge.get(lane.edge_id).push(lane);
      laneEnd.set(lane.id, lane);
    }
    for (const s of geo.signals) {
      const g = el("g", { class: "signal", "data-signal-id": s.id, transform: `translate(${s.x_m},${-s.y_m})`, tabindex: "0", role: "button", "aria-label": "signal " + s.id }, this.layers.signals);
      el("circle", { class: "signal-ring", r: "1" }, g);
      const circle = el("circle", { class: "signal-dot", r: "1" }, g);
      const label = el("text", { class: "signal-label", x: "0", y: "0" }, g);
      label.textContent = s.id;
      const eta = el("text", { class: "signal-eta", x: "0", y: "0" }, g);
      // Stop lines: one per incoming lane, across its end, showing its movements' colour.
      const byLane = new Map();
      (s.links || []).forEach((lane, i) => {
        if (!lane) return;
        if (!byLane.has(lane)) byLane.set(lane, []);
        byLane.get(lane).push(i);
      });
      const stops = [];
      for (const [laneId, idx] of byLane) {
        const lane = laneEnd.get(laneId);
        if (!lane) continue;
        const [x1, y1] = lane.shape[lane.shape.length - 2];
        const [x2, y2] = lane.shape[lane.shape.length - 1];
        const len = Math.hypot(x2 - x1, y2 - y1) || 1;
        const half = (lane.width_m || 3.2) / 2;
        const nx = (-(y2 - y1) / len) * half;
        const ny = ((x2 - x1) / len) * half;
        const line = el("line", {
          class: "stopline light-red",
          x1: x2 + nx, y1: -(y2 + ny), x2: x2 - nx, y2: -(y2 - ny),
          "data-lane-id": laneId,
        }, this.layers.stoplines);
        stops.push({ idx, line, cls: "light-red" });
      }
      this.signals.set(s.id, { g, circle, label, eta, stops, polys: polysBySignal.get(s.id) || [], status: null, state: "" });
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (!this.dragged) this.on.signalClick(s.id);
      });
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") this.on.signalClick(s.id);
      });
    }
    const [xmin, ymin, xmax, ymax] = geo.bounds_m;
    const pad = Math.max(20, 0.04 * Math.max(xmax - xmin, ymax - ymin));
    this.home = { x: xmin - pad, y: -ymax - pad, w: xmax - xmin + 2 * pad, h: ymax - ymin + 2 * pad };
    this.fit();
  }

  // -- view ---------------------------------------------------------------------------------
  fit() {
    if (this.home) this.setView({ ...this.home });
  }

  setView(v) {
    // Keep the aspect of the element so zooming is uniform; limit zoom to sane bounds.
    const r = this.svg.getBoundingClientRect();
    const aspect = r.width > 0 && r.height > 0 ? r.width / r.height : 1.5;
    const cx = v.x + v.w / 2;
    const cy = v.y + v.h / 2;
    let w = v.w;
    let h = v.h;
    if (w / h > aspect) h = w / aspect; else w = h * aspect;
    const maxW = this.home ? Math.max(this.home.w, this.home.h * aspect) * 4 : w;
    const scale = Math.min(1, maxW / w) * Math.max(1, 20 / w);
    w *= scale;
    h *= scale;
    this.view = { x: cx - w / 2, y: cy - h / 2, w, h };
    this.svg.setAttribute("viewBox", `${this.view.x} ${this.view.y} ${this.view.w} ${this.view.h}`);
    const px = r.width > 0 ? this.view.w / r.width : 1;
    this.svg.style.setProperty("--px", px.toFixed(4));
    this.svg.style.setProperty("--lane-w", Math.max(2.8, 1.6 * px).toFixed(3));
  }

  zoom(factor, clientX, clientY) {
    if (!this.view) return;
    const r = this.svg.getBoundingClientRect();
    const fx = clientX === undefined ? 0.5 : (clientX - r.left) / r.width;
    const fy = clientY === undefined ? 0.5 : (clientY - r.top) / r.height;
    const px = this.view.x + fx * this.view.w;
    const py = this.view.y + fy * this.view.h;
    const w = this.view.w * factor;
    const h = this.view.h * factor;
    this.setView({ x: px - fx * w, y: py - fy * h, w, h });
  }

  resized() {
    if (this.view) this.setView(this.view);
  }

  toWorld(clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    return [this.view.x + ((clientX - r.left) / r.width) * this.view.w, -(this.view.y + ((clientY - r.top) / r.height) * this.view.h)];
  }

  wireInput() {
    const svg = this.svg;
    let drag = null;
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      this.zoom(Math.exp(Math.sign(ev.deltaY) * Math.min(Math.abs(ev.deltaY), 300) / 400), ev.clientX, ev.clientY);
    }, { passive: false });
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0 || !this.view) return;
      drag = { x: ev.clientX, y: ev.clientY, view: { ...this.view }, id: ev.pointerId };
      this.dragged = false;
    });
    svg.addEventListener("pointermove", (ev) => {
      if (drag && drag.id === ev.pointerId) {
        const dx = ev.clientX - drag.x;
        const dy = ev.clientY - drag.y;
        if (!this.dragged && Math.hypot(dx, dy) < 4) return;
        if (!this.dragged) {
          this.dragged = true;
          svg.setPointerCapture(ev.pointerId);
          svg.classList.add("dragging");
        }
        const r = svg.getBoundingClientRect();
        const k = drag.view.w / r.width;
        this.setView({ x: drag.view.x - dx * k, y: drag.view.y - dy * k, w: drag.view.w, h: drag.view.h });
        return;
      }
      const t = ev.target;
      if (t && t.dataset && (t.dataset.laneId || t.closest?.(".signal"))) {
        const sig = t.closest(".signal");
        const text = sig ? `signal ${sig.dataset.signalId}` : `edge ${t.dataset.edgeId} · lane ${t.dataset.laneId}`;
        this.on.hover(text, ev.clientX, ev.clientY);
      } else {
        this.on.hover(null);
      }
    });
    const end = (ev) => {
      if (!drag || drag.id !== ev.pointerId) return;
      drag = null;
      svg.classList.remove("dragging");
      if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
      // the click that follows a drag is ignored (see the click handlers)
      setTimeout(() => { this.dragged = false; }, 0);
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("pointerleave", () => this.on.hover(null));
    svg.addEventListener("click", (ev) => {
      if (this.dragged || !this.pickMode) return;
      // The point clicked, and the lane under it or (a click off the lanes) the nearest one.
      const [x, y] = this.toWorld(ev.clientX, ev.clientY);
      const t = ev.target;
      const onLane = t && t.dataset && t.dataset.laneId && t.classList.contains("lane");
      const lane = onLane ? { edge_id: t.dataset.edgeId, id: t.dataset.laneId } : this.nearestLane(x, y);
      this.on.pick({ x_m: x, y_m: y, edgeId: lane ? lane.edge_id : null, laneId: lane ? lane.id : null, shiftKey: ev.shiftKey });
    });
  }

  nearestLane(x, y) {
    let best = null;
    let bestD = Infinity;
    for (const lanes of this.lanesOfEdge.values()) {
      for (const lane of lanes) {
        const s = lane.shape;
        for (let i = 1; i < s.length; i++) {
          const d = segDist(x, y, s[i - 1], s[i]);
          if (d < bestD) { bestD = d; best = lane; }
        }
      }
    }
    return bestD < 40 * (this.view ? this.view.w / Math.max(1, this.svg.getBoundingClientRect().width) : 1) ? best : null;
  }

  setPickMode(kind) {
    this.pickMode = kind;
    this.svg.classList.toggle("picking", !!kind);
  }

  /** Marks the edge picked as origin or destination (one mark each; null clears it). */
  markPick(kind, edgeId) {
    this.clearPick(kind);
    const lanes = edgeId ? this.lanesOfEdge.get(edgeId) : null;
    if (!lanes) return false;
    const g = el("g", { class: "pick pick-" + kind, "data-pick": kind }, this.layers.picks);
    for (const lane of lanes) el("path", { d: pathD(lane.shape) }, g);
    // the label beside the middle of the edge, clear of the junctions at its ends
    const shape = lanes[lanes.length - 1].shape;
    const [ax, ay] = shape[Math.floor((shape.length - 1) / 2)];
    const [bx, by] = shape[Math.floor((shape.length - 1) / 2) + 1] || shape[shape.length - 1];
    const t = el("text", { class: "pick-label", x: (ax + bx) / 2, y: -(ay + by) / 2 }, g);
    t.textContent = kind === "origin" ? "A" : "B";
    this.picks.set(kind, g);
    return true;
  }

  /** Marks the point (network m) picked as origin or destination, in place of an edge. */
  markPoint(kind, x, y) {
    this.clearPick(kind);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
    const g = el("g", { class: "pick pick-point pick-" + kind, "data-pick": kind, transform: `translate(${x},${-y})` }, this.layers.picks);
    el("circle", { class: "pick-dot", r: "1" }, g);
    const t = el("text", { class: "pick-label", x: "0", y: "0" }, g);
    t.textContent = kind === "origin" ? "A" : "B";
    this.picks.set(kind, g);
    return true;
  }

  clearPick(kind) {
    this.picks.get(kind)?.remove();
    this.picks.delete(kind);
  }

  hasEdge(edgeId) {
    return this.lanesOfEdge.has(edgeId);
  }

  select(signalId) {
    if (this.selected) this.signals.get(this.selected)?.g.classList.remove("selected");
    this.selected = signalId;
    if (signalId) this.signals.get(signalId)?.g.classList.add("selected");
  }

  // -- live state ------------------------------------------------------------------------------
  setSignal(id, state, held, recovering) {
    const s = this.signals.get(id);
    if (!s) return;
    if (state !== undefined && state !== s.state) {
      s.state = state;
      for (const stop of s.stops) {
        const cls = lightClass(stop.idx.map((i) => state[i] || "").join(""));
        if (cls !== stop.cls) {
          stop.line.classList.replace(stop.cls, cls);
          stop.cls = cls;
        }
      }
      const greens = (state.match(/[Gg]/g) || []).length;
      s.g.dataset.greens = String(greens);
    }
    const mode = held ? "held" : recovering ? "recovering" : "normal";
    if (s.g.dataset.mode !== mode) {
      s.g.dataset.mode = mode;
      for (const p of s.polys) p.dataset.mode = mode;
      this.label(s);
    }
  }

  /** The text under a signal: its corridor status and ETA, else what it does if not normal. */
  label(s) {
    const j = s.corridor;
    let text = "";
    if (j) {
      text = j.status;
      if (j.eta_s != null && j.status !== "recovering") {
        const dt = j.eta_s - this.nowS;
        text += dt >= 0 ? ` · ETA ${dt.toFixed(0)} s` : " · due";
      }
    } else if (s.g.dataset.mode === "recovering") {
      text = "recovering";
    } else if (s.g.dataset.mode === "held") {
      text = "held";
    }
    if (s.eta.textContent !== text) s.eta.textContent = text;
  }

  /** Lane load 0..1 (occupancy or queue share), coloured in five steps; null: no data. */
  setLaneLoad(laneId, load) {
    const p = this.lanes.get(laneId);
    if (!p) return;
    const step = load == null || !Number.isFinite(load) ? "" : String(Math.max(0, Math.min(4, Math.floor(load * 5))));
    if (p.dataset.load !== step) p.dataset.load = step;
  }

  setVehicle(id, v) {
    let m = this.vehicles.get(id);
    if (!m) {
      const g = el("g", { class: "vehicle", "data-vehicle-id": id }, this.layers.vehicles);
      el("circle", { class: "vehicle-halo", r: "1" }, g);
      el("circle", { class: "vehicle-dot", r: "1" }, g);
      const label = el("text", { class: "vehicle-label", x: "0", y: "0" }, g);
      label.textContent = id;
      m = { g, label, first: true };
      this.vehicles.set(id, m);
    }
    m.g.style.transform = `translate(${v.x_m}px, ${-v.y_m}px)`;
    m.g.dataset.x = String(v.x_m);
    m.g.dataset.y = String(v.y_m);
    m.g.dataset.edge = v.edge_id;
    if (m.first) {
      // no slide in from the origin the first time
      m.first = false;
      m.g.getBoundingClientRect();
      m.g.classList.add("moving");
    }
  }

  removeVehicle(id) {
    const m = this.vehicles.get(id);
    if (m) {
      m.g.remove();
      this.vehicles.delete(id);
    }
  }

  vehicleIds() {
    return [...this.vehicles.keys()];
  }

  /**
   * The corridors of the requests shown: route highlighted, and per signal on it the most
   * advanced status (granted > pending > recovering) and the ETA in seconds from now.
   */
  setCorridors(requests, nowS, focusId) {
    this.nowS = nowS;
    const keep = new Set();
    const statusOf = new Map();
    for (const r of requests) {
      keep.add(r.request_id);
      const key = r.route.join(" ") + "|" + (r.request_id === focusId);
      let c = this.corridors.get(r.request_id);
      if (!c || c.key !== key) {
        if (c) c.g.remove();
        const g = el("g", { class: "corridor" + (r.request_id === focusId ? " focus" : ""), "data-request-id": r.request_id }, this.layers.corridors);
        for (const edgeId of r.route) {
          for (const lane of this.lanesOfEdge.get(edgeId) || []) el("path", { d: pathD(lane.shape) }, g);
        }
        c = { g, key };
        this.corridors.set(r.request_id, c);
      }
      c.g.dataset.state = r.state;
      for (const j of r.junctions) {
        const prev = statusOf.get(j.signal_id);
        if (!prev || (STATUS_RANK[j.status] ?? 0) > (STATUS_RANK[prev.status] ?? 0)) statusOf.set(j.signal_id, j);
      }
    }
    for (const [rid, c] of this.corridors) {
      if (!keep.has(rid)) {
        c.g.remove();
        this.corridors.delete(rid);
      }
    }
    for (const [sid, s] of this.signals) {
      const j = statusOf.get(sid);
      const status = j ? j.status : "";
      if (s.g.dataset.corridorStatus !== status) {
        if (status) s.g.dataset.corridorStatus = status; else delete s.g.dataset.corridorStatus;
        s.g.dataset.corridorClass = status ? statusClass(status) : "";
      }
      s.corridor = j || null;
      this.label(s);
    }
  }
}

function segDist(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const l2 = dx * dx + dy * dy;
  const t = l2 ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / l2)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
