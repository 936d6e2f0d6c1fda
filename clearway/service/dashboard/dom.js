// Small DOM builders the dashboard's cards share: tables and paragraphs, text set as text
// (never as HTML: every value shown comes from the API).

export function table(heads) {
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

export function cells(tr, values) {
  for (const v of values) {
    const td = tr.insertCell();
    if (v instanceof Node) td.append(v); else td.textContent = v;
  }
}

export function addRow(t, values) {
  cells(t.tBodies[0].insertRow(), values);
}

export function para(text, cls) {
  const p = document.createElement("p");
  if (cls) p.className = cls;
  p.textContent = text;
  return p;
}
