// "What the public sees": the public alert feed (/public/alerts/stream, the same Server-Sent
// Events a navigation app gets, no credential) drawn on the map as a layer an operator can
// toggle, with the feed's own messages listed beside it. Nothing here comes from the
// authenticated feed: if the public feed said more than it should, this view would show it.

const NS = "http://www.w3.org/2000/svg";
const STREAM = "/public/alerts/stream";

function pathD(shape) {
  return shape.map(([x, y], i) => `${i ? "L" : "M"}${x},${-y}`).join("");
}

function hhmmss(iso) {
  return typeof iso === "string" ? iso.slice(11, 19) : "";
}

export class PublicLayer {
  /**
   * @param map the NetMap (its lanes per edge)
   * @param parts {layer: <g>, card, list, count, status, button}
   */
  constructor(map, parts) {
    this.map = map;
    this.parts = parts;
    this.junctions = new Map(); // junction id -> {x_m, y_m}
    this.source = null;
    this.features = [];
    parts.button.addEventListener("click", () => (this.source ? this.stop() : this.start()));
  }

  setGeometry(geo) {
    this.junctions = new Map(geo.junctions.map((j) => [j.id, j]));
    if (this.source) this.draw();
  }

  start() {
    if (this.source) return;
    const p = this.parts;
    p.card.hidden = false;
    p.button.setAttribute("aria-pressed", "true");
    p.button.classList.add("active");
    document.body.dataset.publicView = "on";
    this.setStatus("connecting");
    this.source = new EventSource(STREAM);
    this.source.addEventListener("alerts", (ev) => {
      try {
        const doc = JSON.parse(ev.data);
        this.features = Array.isArray(doc.features) ? doc.features : [];
      } catch {
        this.features = [];
      }
      this.parts.layer.dataset.etag = ev.lastEventId || "";
      this.setStatus("live");
      this.draw();
    });
    // The browser reconnects by itself (the server ends each stream after a while).
    this.source.addEventListener("error", () => this.setStatus("reconnecting"));
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    this.features = [];
    const p = this.parts;
    p.layer.replaceChildren();
    p.list.replaceChildren();
    p.count.textContent = "";
    p.card.hidden = true;
    p.button.setAttribute("aria-pressed", "false");
    p.button.classList.remove("active");
    document.body.dataset.publicView = "off";
  }

  setStatus(s) {
    this.parts.status.textContent = s;
    this.parts.status.dataset.state = s;
  }

  draw() {
    const { layer, list, count } = this.parts;
    layer.replaceChildren();
    const items = [];
    for (const f of this.features) {
      const pr = f.properties || {};
      const g = document.createElementNS(NS, "g");
      g.setAttribute("class", `public-alert public-${pr.kind}`);
      g.dataset.reason = pr.reason || "";
      if (pr.kind === "edge") {
        g.dataset.edgeId = pr.edge_id;
        for (const lane of this.map.lanesOfEdge.get(pr.edge_id) || []) {
          const path = document.createElementNS(NS, "path");
          path.setAttribute("d", pathD(lane.shape));
          g.append(path);
        }
      } else {
        g.dataset.junctionId = pr.junction_id;
        const j = this.junctions.get(pr.junction_id);
        if (j) {
          const c = document.createElementNS(NS, "circle");
          c.setAttribute("cx", j.x_m);
          c.setAttribute("cy", -j.y_m);
          c.setAttribute("r", "1");
          g.append(c);
        }
      }
      const title = document.createElementNS(NS, "title");
      title.textContent = pr.message || "";
      g.append(title);
      layer.append(g);
      const li = document.createElement("li");
      li.className = "public-item";
      li.dataset.reason = pr.reason || "";
      const where = pr.kind === "edge" ? `edge ${pr.edge_id}` : `junction ${pr.junction_id} (${pr.from_edge} → ${pr.to_edge})`;
      li.textContent = `${pr.message} · ${where}${pr.street ? " · " + pr.street : ""} · ${hhmmss(pr.from)}–${hhmmss(pr.to)} UTC`;
      items.push(li);
    }
    list.replaceChildren(...items);
    count.textContent = this.features.length ? `${this.features.length} places` : "nothing cleared now";
  }
}
