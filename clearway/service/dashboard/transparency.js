// The public transparency report page: fetch /public/report and show its cells. No
// credential; nothing here is stored. Suppressed cells (fewer than k requests) and figures
// clearway does not record are shown as such, never as zero.

const $ = (id) => document.getElementById(id);

function show(cell) {
  if (cell === undefined || cell === null) return { text: "–", cls: "absent" };
  if (cell.suppressed) return { text: "suppressed", cls: "suppressed", title: cell.suppressed };
  if (cell.not_estimated) return { text: "not estimated", cls: "absent", title: cell.not_estimated };
  if (cell.not_recorded) return { text: "not recorded", cls: "absent", title: cell.not_recorded };
  return { text: cell.value === null ? "–" : String(cell.value), cls: "num" };
}

function td(cell) {
  const el = document.createElement("td");
  const s = show(cell);
  el.textContent = s.text;
  el.className = s.cls;
  if (s.title) el.title = s.title;
  return el;
}

function row(label, ...cells) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.textContent = label;
  tr.append(th, ...cells.map(td));
  return tr;
}

function render(r) {
  $("k").textContent = r.k;
  $("period").textContent = `${r.period} (${r.from.slice(0, 10)} to ${r.until.slice(0, 10)}, UTC)`;
  const t = r.totals;
  const totals = $("totals").tBodies[0];
  totals.replaceChildren(
    row("requests", t.requests),
    ...Object.entries(t.requests_by_role).map(([role, c]) => row(`— ${role}`, c)),
    ...Object.entries(t.outcomes).map(([o, c]) => row(o, c)),
    row("median time saved against no priority (s)", t.time_saved_median_s),
    row("others' extra delay", t.others_extra_delay),
    row("guard rejections", t.guard_rejections),
    row("monitor violations", t.monitor_violations),
  );
  const holds = $("holds").tBodies[0];
  holds.replaceChildren(...Object.entries(t.holds_per_junction).map(([j, c]) => row(j, c)));
  if (t.holds_other_junctions) holds.append(row("other junctions", t.holds_other_junctions));
  const days = $("days").tBodies[0];
  days.replaceChildren(...r.days.map((d) => row(d.day, d.requests, d.outcomes.completed,
    d.outcomes.cancelled, d.outcomes.expired, d.outcomes.flagged, d.time_saved_median_s,
    d.guard_rejections)));
  const h = r.audit_head;
  $("head-seq").textContent = String(h.head_seq);
  $("head-hash").textContent = h.head_hash;
  $("head-sig").textContent = h.signature ? `${h.algorithm}: ${h.signature}` : (h.unsigned || "unsigned");
  $("method").textContent = r.method;
}

async function load() {
  const month = $("month").value;
  const day = $("day").value;
  const query = day ? `day=${encodeURIComponent(day)}` : month ? `month=${encodeURIComponent(month)}` : "";
  const url = `/public/report${query ? "?" + query : ""}`;
  $("raw").href = url;
  $("error").hidden = true;
  try {
    const res = await fetch(url);
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail || `HTTP ${res.status}`);
    render(body);
    document.body.dataset.loaded = body.period;
  } catch (err) {
    $("error").textContent = `The report could not be loaded: ${err.message}`;
    $("error").hidden = false;
  }
}

const params = new URLSearchParams(location.search);
if (params.get("month")) $("month").value = params.get("month");
if (params.get("day")) $("day").value = params.get("day");
$("period-form").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
load();
