// "What was done": for operators (audit.read), what the verified audit log says the corridor
// did for one request — its lifecycle, its first decision, the holds per junction and the
// advice — from GET /audit/requests/{id}. Re-running it against the other strategies is
// `clearway replay REQUEST_ID` (printed for the operator to copy).

export class RequestLog {
  constructor(card, { api }) {
    this.card = card;
    this.api = api;
    this.title = card.querySelector("#log-title");
    this.box = card.querySelector("#request-log");
    this.seq = 0;
  }

  async show(rid) {
    const seq = ++this.seq;
    this.card.hidden = false;
    this.title.textContent = rid;
    this.box.replaceChildren(para("Loading…", "muted"));
    try {
      const log = await this.api.get(`/audit/requests/${encodeURIComponent(rid)}`);
      if (seq === this.seq) this.box.replaceChildren(...body(log));
    } catch (e) {
      if (seq === this.seq) this.box.replaceChildren(para(e.plain || e.message, "error"));
    }
  }
}

function body(log) {
  const out = [];
  const served = log.served;
  out.push(para(
    `${log.verified_records} audit records verified · first decision ` +
      (served ? `after ${served.latency_ms.toFixed(0)} ms (${served.commanded.length} signals commanded)` : "not logged yet"),
    "muted",
  ));
  const ev = table(["t (s)", "event", "why"]);
  for (const e of log.events) row(ev, [e.time_s.toFixed(0), e.event, e.reason || ""]);
  out.push(ev);
  if (log.holds.length) {
    const holds = table(["signal", "from (s)", "to (s)", "held (s)", "changes", "refused", "shared with"]);
    holds.id = "log-holds";
    for (const h of log.holds) {
      row(holds, [
        h.signal_id,
        h.start_s.toFixed(0),
        h.end_s == null ? "–" : h.end_s.toFixed(0),
        h.duration_s == null ? "–" : h.duration_s.toFixed(0),
        String(h.commands.length),
        String(h.rejected),
        h.shared_with.join(", "),
      ]);
    }
    out.push(holds);
  } else {
    out.push(para("No holds logged for it.", "muted"));
  }
  for (const a of log.advice) out.push(para(`Advice: ${a.reason || JSON.stringify(a)}`, ""));
  const cmd = document.createElement("code");
  cmd.textContent = `clearway replay ${log.request_id} --db <the service's database> --out-dir replay`;
  const p = para("Compare it with the other strategies on the same demand: ", "muted");
  p.append(cmd);
  out.push(p);
  return out;
}

function table(heads) {
  const t = document.createElement("table");
  t.className = "grid";
  const tr = t.createTHead().insertRow();
  for (const h of heads) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.append(th);
  }
  t.createTBody();
  return t;
}

function row(t, values) {
  const tr = t.tBodies[0].insertRow();
  for (const v of values) tr.insertCell().textContent = v;
}

function para(text, cls) {
  const p = document.createElement("p");
  if (cls) p.className = cls;
  p.textContent = text;
  return p;
}
