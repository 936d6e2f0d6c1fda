// "What was done": for operators (audit.read), what the verified audit log says the corridor
// did for one request — its lifecycle, its first decision, the holds per junction and the
// advice — from GET /audit/requests/{id}; and a re-run of its logged demand under none, local
// and corridor (POST/GET /audit/requests/{id}/replay, polled while it runs in the background),
// shown as a comparison table and the re-run's time-space diagram.

import { addRow as row, para, table } from "./dom.js";

const POLL_MS = 1000;
const ROWS = [
  ["ratio", "ratio to free flow", (v) => v.toFixed(2)],
  ["priority_travel_time_s", "travel time (s)", (v) => v.toFixed(0)],
  ["stops", "stops", (v) => v.toFixed(0)],
  ["others_extra_delay_veh_h", "others' extra delay (veh·h)", (v) => v.toFixed(3)],
  ["cross_street_extra_delay_veh_h", "cross streets (veh·h)", (v) => v.toFixed(3)],
  ["safety_violations", "monitor violations", (v) => v.toFixed(0)],
];

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
      if (seq !== this.seq) return;
      this.rerun = document.createElement("div");
      this.rerun.id = "log-rerun";
      this.box.replaceChildren(...body(log), this.rerunButton(rid, seq), this.rerun);
    } catch (e) {
      if (seq === this.seq) this.box.replaceChildren(para(e.plain || e.message, "error"));
    }
  }

  rerunButton(rid, seq) {
    const b = document.createElement("button");
    b.type = "button";
    b.id = "log-rerun-start";
    b.textContent = "Re-run against none / local / corridor";
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await this.api.post(this.replayPath(rid));
        await this.poll(rid, seq);
      } catch (e) {
        if (seq === this.seq) this.rerun.replaceChildren(para(e.plain || e.message, "error"));
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  replayPath(rid) {
    return `/audit/requests/${encodeURIComponent(rid)}/replay`;
  }

  async poll(rid, seq) {
    for (;;) {
      if (seq !== this.seq) return;
      const job = await this.api.get(this.replayPath(rid));
      if (job.status === "done") return this.showResult(rid, job);
      if (job.status === "failed") {
        this.rerun.replaceChildren(para(`The re-run failed: ${job.error}`, "error"));
        return;
      }
      const since = job.started_at ? ` for ${(Date.now() / 1000 - job.started_at).toFixed(0)} s` : "";
      this.rerun.replaceChildren(para(`Re-run ${job.status}${since}…`, "muted"));
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async showResult(rid, job) {
    const cmp = job.report.comparison || {};
    const names = ["none", "local", "corridor"].filter((n) => n in cmp);
    const out = [];
    if (!names.length) {
      out.push(para(job.report.not_rerun || "Nothing could be re-run.", "muted"));
    } else {
      const t = table(["", ...names]);
      t.id = "log-rerun-table";
      for (const [key, label, fmt] of ROWS) {
        row(t, [label, ...names.map((n) => (cmp[n][key] == null ? "–" : fmt(cmp[n][key])))]);
      }
      out.push(t);
    }
    if (job.figure) {
      const img = document.createElement("img");
      img.id = "log-rerun-figure";
      img.alt = `time-space diagram of the re-run of ${rid}`;
      img.style.maxWidth = "100%";
      const resp = await fetch(`${this.replayPath(rid)}/figure`, {
        headers: { Authorization: "Bearer " + this.api.token },
      });
      if (resp.ok) {
        img.src = URL.createObjectURL(await resp.blob());
        out.push(img);
      }
    }
    this.rerun.replaceChildren(...out);
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
  const p = para("Compare it with the other strategies on the same demand (here, or with ", "muted");
  p.append(cmd, " for the full report):");
  out.push(p);
  return out;
}
