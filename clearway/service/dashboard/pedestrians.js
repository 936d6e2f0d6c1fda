// People waiting at a junction's crossings, as the junction panel shows them: the counts the
// live feed and GET /junctions/{id}/state carry (pedestrian detectors, a call kept until its
// walk is shown, as actuated and max-pressure control use it), never anyone's id or position.

/**
 * The "Pedestrians" row of the junction panel.
 * @param {{waiting: number, walk: boolean, crossings: {link_index: number, waiting: number, walk: boolean}[]}} p
 * @returns {HTMLElement} "3 waiting · no walk shown", and the crossings with people or a walk
 */
export function pedestrianSummary(p) {
  const box = document.createElement("span");
  box.className = "peds";
  box.dataset.waiting = String(p.waiting);
  box.dataset.walk = p.walk ? "1" : "0";
  const total = document.createElement("span");
  total.className = "peds-total";
  total.textContent = `${p.waiting ? p.waiting : "nobody"} waiting · ${p.walk ? "walk shown" : "no walk shown"}`;
  box.append(total);
  const busy = p.crossings.filter((c) => c.waiting > 0 || c.walk);
  if (busy.length) {
    const ul = document.createElement("ul");
    ul.className = "plain peds-crossings";
    for (const c of busy) {
      const li = document.createElement("li");
      li.dataset.link = String(c.link_index);
      li.dataset.waiting = String(c.waiting);
      li.dataset.walk = c.walk ? "1" : "0";
      li.textContent = `crossing #${c.link_index}: ${c.walk ? "walk" : `${c.waiting} waiting`}`;
      ul.append(li);
    }
    box.append(ul);
  }
  box.title = "people calling at the junction's crossings (detector counts), kept until the walk is shown";
  return box;
}
