// The "new priority request" form: origin and destination each as an edge id or as "lat, lon"
// (WGS84 degrees), typed or picked on the map. On a geo-referenced net a click gives the
// point's coordinates (Shift-click: the edge under it); on a net without projection, the edge.
// What the API refuses (an unknown edge, a point off the network) is shown as it said it.

import { ApiError } from "./api.js";
import { formatLatLon, geoFrame, parsePlace } from "./geo.js";

const KINDS = ["origin", "destination"];

export class RequestForm {
  /**
   * @param {HTMLFormElement} form  the #create-form element
   * @param {object} deps  api (Api), map (NetMap), created(request) after a 201,
   *   $ (selector helper)
   */
  constructor(form, { api, map, created, $ }) {
    this.form = form;
    this.api = api;
    this.map = map;
    this.created = created;
    this.$ = $;
    this.frame = null; // network x/y <-> lon/lat, when the net has a projection
    this.picking = null;
    for (const kind of KINDS) {
      $(`#pick-${kind}`).addEventListener("click", () => this.setPicking(this.picking === kind ? null : kind));
      this.input(kind).addEventListener("change", () => this.mark(kind));
    }
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.setPicking(null);
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
  }

  input(kind) {
    return this.form.elements.namedItem(kind);
  }

  /** The network drawn (GET /network/geometry): whether clicks can give coordinates. */
  setGeometry(geometry) {
    this.frame = geoFrame(geometry);
    const hint = this.frame ? "edge id, or lat, lon" : "edge id";
    for (const kind of KINDS) {
      this.input(kind).placeholder = `${hint} (or Pick)`;
      this.mark(kind);
    }
    this.form.dataset.coordinates = this.frame ? "1" : "";
    this.$("#place-note").textContent = this.frame
      ? "An edge id, or coordinates as lat, lon (WGS84 degrees)."
      : "An edge id (this network has no geo-reference: coordinates cannot be placed on it).";
  }

  setPicking(kind) {
    this.picking = kind;
    this.map.setPickMode(kind);
    for (const k of KINDS) this.$(`#pick-${k}`).classList.toggle("active", kind === k);
    const hint = this.$("#pick-hint");
    hint.hidden = !kind;
    const what = this.frame ? "a point on the map (Shift-click: the road's edge id)" : "a road on the map";
    hint.textContent = kind ? `Click ${what} for the ${kind} (Esc to stop)` : "";
  }

  /** A click on the map while picking: {x_m, y_m, edgeId, shiftKey} (see NetMap). */
  picked(at) {
    const kind = this.picking;
    if (!kind) return;
    const field = this.input(kind);
    if (this.frame && !at.shiftKey) {
      const [lon, lat] = this.frame.toLonLat(at.x_m, at.y_m);
      field.value = formatLatLon(lat, lon);
      this.map.markPoint(kind, at.x_m, at.y_m);
    } else if (at.edgeId) {
      field.value = at.edgeId;
      this.map.markPick(kind, at.edgeId);
    } else {
      return; // no road near the click and no projection: nothing to fill in
    }
    const other = this.input("destination");
    this.setPicking(kind === "origin" && !other.value ? "destination" : null);
  }

  /** Draws what the field holds: its edge, or its point (coordinates on a projected net). */
  mark(kind) {
    const place = parsePlace(this.input(kind).value);
    if (place && place.edge) {
      this.map.markPick(kind, place.edge);
    } else if (place && this.frame) {
      const [x, y] = this.frame.toXY(place.lon, place.lat);
      this.map.markPoint(kind, x, y);
    } else {
      this.map.clearPick(kind);
    }
  }

  /** The POST /priority-requests body: each place as `<kind>_edge` or `<kind>: {lat, lon}`. */
  body() {
    const f = this.form.elements;
    const body = {
      vehicle_id: f.namedItem("vehicle_id").value.trim(),
      role: f.namedItem("role").value,
      incident_id: f.namedItem("incident_id").value.trim(),
      lease_s: Number(f.namedItem("lease_s").value) || 120,
      simulate: f.namedItem("simulate").checked,
    };
    for (const kind of KINDS) {
      const place = parsePlace(this.input(kind).value);
      if (!place) continue; // the input is required; the API names a missing place anyway
      if (place.edge) body[`${kind}_edge`] = place.edge;
      else body[kind] = { lat: place.lat, lon: place.lon };
    }
    return body;
  }

  async submit() {
    const err = this.$("#create-error");
    err.hidden = true;
    const btn = this.$("#create-submit");
    btn.disabled = true;
    try {
      const r = await this.api.post("/priority-requests", this.body());
      for (const kind of KINDS) this.map.clearPick(kind);
      this.created(r);
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.plain : e.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  }
}
