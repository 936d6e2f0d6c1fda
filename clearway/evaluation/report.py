"""``clearway report``: a markdown report with tables and figures from ``--jsonl`` run lines.

The lines of one file may come from several ``clearway evaluate`` calls: scenarios, normal
controllers (``normal``, when the line has it) and seeds mixed, in finishing order. They are
grouped by (scenario, normal) and, inside a group, by label (``reference`` or the strategy).
A run repeated (same group, label and seed) counts once, its last line. Per group: medians
over seeds per strategy (extra delay = the strategy line's ``others_total_delay_veh_h`` minus
the same seed's reference line's, as the evaluation computes it), safety totals and failures;
figures of the others' time loss, throughput and the priority vehicles' time-space diagrams.
Failed runs are listed, never fatal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clearway.bootstrap import PRIORITY_STRATEGIES, STRATEGIES
from clearway.errors import ConfigError
from clearway.evaluation import figures
from clearway.evaluation.priority_metrics import median
from clearway.evaluation.priority_rows import expand_trace

REFERENCE = "reference"
#: Keys every line has (the ``--jsonl`` format, docs/evaluation.md).
REQUIRED_KEYS = ("status", "scenario", "label", "strategy", "seed")
#: Fields read as numbers (``None`` allowed: not measured).
NUMBER_KEYS = (
    "ratio", "stops", "others_total_delay_veh_h", "cross_street_time_loss_veh_h",
    "mean_time_loss_s", "p95_time_loss_s", "ped_time_loss_s", "time_to_recover_s",
    "safety_violations", "guard_rejections", "teleports",
)  # fmt: skip
#: Quantiles shown in the time-loss table (line keys of ``others_time_loss_quantiles_s``).
TABLE_QUANTILES = ("p50", "p90", "p95", "p99", "max")


@dataclass(frozen=True)
class Group:
    """The runs of one scenario under one normal controller.

    Attributes
    ----------
    scenario, normal
        The group (``normal`` is ``None`` for lines without it).
    ok
        Per label, per seed, the line of the run that finished.
    failed
        The failed runs' lines, in file order.
    """

    scenario: str
    normal: str | None
    ok: dict[str, dict[int, dict]] = field(default_factory=dict)
    failed: list[dict] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Every label with a line (ok or failed), the reference first, then as :func:`order`."""
        return sorted({*self.ok, *(f["label"] for f in self.failed)}, key=order)

    @property
    def title(self) -> str:
        """``scenario`` or ``scenario (normal control: X)``."""
        return self.scenario + (f" (normal control: {self.normal})" if self.normal else "")


def order(label: str) -> tuple[int, str]:
    """Sort key: reference, the priority strategies, the other strategies, unknown by name."""
    known = (
        REFERENCE,
        *PRIORITY_STRATEGIES,
        *(s for s in STRATEGIES if s not in PRIORITY_STRATEGIES),
    )
    return (known.index(label), "") if label in known else (len(known), label)


def read_lines(path: Path) -> list[dict]:
    """Every run line of a ``--jsonl`` file, checked.

    Raises
    ------
    ConfigError
        If the file is missing or holds no line, or a line is not a JSON object with
        :data:`REQUIRED_KEYS` (the message names the file and the line number).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"results file {path} not found; give the file `clearway evaluate "
                          "--jsonl FILE` wrote") from None  # fmt: skip
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"results file {path} is not a JSON-lines text file ({exc})") from None
    lines = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}, line {n}"
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg} at column {exc.colno}); "
                              "each line must be one run's JSON object") from None  # fmt: skip
        _check_line(line, where)
        lines.append(line)
    if not lines:
        raise ConfigError(f"results file {path} holds no run line; run `clearway evaluate "
                          "--jsonl FILE` first")  # fmt: skip
    return lines


def _check_line(line: object, where: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` unless ``line`` is a usable run line."""
    if not isinstance(line, dict):
        raise ConfigError(f"{where}: a run line is a JSON object, got {type(line).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in line]
    if missing:
        raise ConfigError(f"{where}: not a run line of `clearway evaluate --jsonl` "
                          f"(missing {', '.join(missing)})")  # fmt: skip
    if line["status"] not in ("ok", "failed"):
        raise ConfigError(f"{where}: status must be ok or failed, got {line['status']!r}")
    seed = line["seed"]
    integer = isinstance(seed, int) and not isinstance(seed, bool)
    # A failed run without a seed (a run that is not a seeded one) is still listed.
    if not integer and not (seed is None and line["status"] == "failed"):
        raise ConfigError(f"{where}: seed must be an integer, got {seed!r}")
    for key in ("scenario", "label", "strategy", *(("normal",) if line.get("normal") else ())):
        if not isinstance(line[key], str):
            raise ConfigError(f"{where}: {key} must be a string, got {line[key]!r}")
    bad = [k for k in NUMBER_KEYS if line.get(k) is not None and not _is_number(line[k])]
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)} must be numbers")
    try:
        # The figures' inputs: checked here, where the line number is known.
        q = line.get("others_time_loss_quantiles_s") or {}
        _require(all(v is None or _is_number(v) for v in q.values()), "quantiles")
        hist = line.get("others_time_loss_histogram")
        if hist:
            ok = len(hist["edges_s"]) == len(hist["counts"]) > 1
            _require(ok and all(map(_is_number, [*hist["edges_s"], *hist["counts"]])), "histogram")
        flow = line.get("others_arrivals")
        if flow:
            ok = _is_number(flow["interval_s"]) and flow["interval_s"] > 0
            _require(ok and all(map(_is_number, flow["counts"])), "arrivals")
        for data in line.get("traces") or ():
            trace = expand_trace(data)
            _require(all(len(a) == len(trace.time_s) for a in trace.aspects), "signal changes")
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: malformed distribution, arrivals or trace ({exc!r})") from None


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"bad {what}")


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def group_lines(lines: Sequence[Mapping]) -> tuple[list[Group], int]:
    """Groups in order of first appearance, and how many lines a later one superseded."""
    groups: dict[tuple[str, str | None], Group] = {}
    latest: dict[tuple, Mapping] = {}
    for line in lines:
        latest[(line["scenario"], line.get("normal"), line["label"], line["seed"])] = line
    for (scenario, normal, label, seed), line in latest.items():
        g = groups.setdefault((scenario, normal), Group(scenario, normal))
        if line["status"] == "ok":
            g.ok.setdefault(label, {})[seed] = dict(line)
        else:
            g.failed.append(dict(line))
    return list(groups.values()), len(lines) - len(latest)


def extra_delays_veh_h(
    group: Group, label: str, key: str = "others_total_delay_veh_h"
) -> dict[int, float]:
    """Per seed with a finished reference, the label's ``key`` minus the reference's (veh·h).

    With the default key the others' extra delay, with ``cross_street_time_loss_veh_h`` the
    cross streets'. Empty for the reference itself (what the others are measured against).
    """
    refs = group.ok.get(REFERENCE, {})
    out: dict[int, float] = {}
    if label == REFERENCE:
        return out
    for seed, line in group.ok.get(label, {}).items():
        run_h, ref_h = line.get(key), refs.get(seed, {}).get(key)
        if run_h is not None and ref_h is not None:
            # The lines' totals have 4 decimals: so has their difference.
            out[seed] = round(run_h - ref_h, 4)
    return out


def summary(group: Group, label: str) -> dict:
    """Medians over seeds, totals and failure count of one label (``None``: no value)."""
    runs = list(group.ok.get(label, {}).values())
    cross = extra_delays_veh_h(group, label, "cross_street_time_loss_veh_h")
    out: dict[str, object] = {
        "runs": len(runs),
        "failed": sum(1 for f in group.failed if f["label"] == label),
        "others_extra_delay_veh_h": median(extra_delays_veh_h(group, label).values()),
        "cross_street_extra_delay_veh_h": median(cross.values()),
    }
    for key in ("ratio", "stops", "mean_time_loss_s", "p95_time_loss_s", "ped_time_loss_s",
                "time_to_recover_s"):
        out[key] = median(r.get(key) for r in runs)
    for key in ("safety_violations", "guard_rejections", "teleports"):
        values = [r[key] for r in runs if r.get(key) is not None]
        out[f"{key}_total"] = sum(values) if values else None
    return out


def quantile_medians(group: Group, label: str) -> dict[str, float]:
    """Median over seeds of each time-loss quantile (s)."""
    qs = [r["others_time_loss_quantiles_s"] for r in group.ok.get(label, {}).values()
          if r.get("others_time_loss_quantiles_s")]  # fmt: skip
    keys = {k for q in qs for k in q}
    return {k: m for k in keys if (m := median(q.get(k) for q in qs)) is not None}


def pooled_histogram(group: Group, label: str) -> tuple[list[float], list[int]] | None:
    """The time-loss histograms of every seed added up (those with the first one's edges)."""
    hists = [r["others_time_loss_histogram"] for r in group.ok.get(label, {}).values()
             if r.get("others_time_loss_histogram")]  # fmt: skip
    if not hists:
        return None
    edges = list(hists[0]["edges_s"])
    counts = np.sum([h["counts"] for h in hists if list(h["edges_s"]) == edges], axis=0)
    return edges, [int(c) for c in counts]


def mean_arrivals(group: Group, label: str) -> tuple[float, list[float]] | None:
    """Arrivals per interval, mean over the seeds that cover the interval."""
    flows = [r["others_arrivals"] for r in group.ok.get(label, {}).values()
             if r.get("others_arrivals")]  # fmt: skip
    if not flows:
        return None
    interval = flows[0]["interval_s"]
    series = [f["counts"] for f in flows if f["interval_s"] == interval]
    n = max(len(s) for s in series)
    means = [float(np.mean([s[k] for s in series if k < len(s)])) for k in range(n)]
    return interval, means


def write_report(results: Path, out_dir: Path) -> Path:
    """Read ``results``, write ``report.md`` and its figures (``figures/``) into ``out_dir``.

    Returns
    -------
    Path
        The markdown file.

    Raises
    ------
    ConfigError
        If ``results`` is missing, empty or has a malformed line (:func:`read_lines`).
    """
    lines = read_lines(results)
    groups, superseded = group_lines(lines)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    failed = sum(1 for g in groups for _ in g.failed)
    md = [
        "# clearway report",
        "",
        f"From `{results}`: {len(lines)} run line(s), {failed} failed run(s), "
        f"{len(groups)} scenario group(s).",
    ]
    if superseded:
        md.append(f"{superseded} line(s) were repeated runs: the last line of each counts.")
    slugs: set[str] = set()
    for g in groups:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", g.scenario + (f"--{g.normal}" if g.normal else ""))
        # Two names may reduce to one slug (grid:3x3, grid-3x3): never overwrite a figure.
        slug = slug if slug not in slugs else f"{slug}-{len(slugs) + 1}"
        slugs.add(slug)
        md += ["", *_group_section(g, fig_dir / slug, out_dir)]
    md += ["", "## Failed runs", ""]
    md += _failed_table(groups) if failed else ["None."]
    path = out_dir / "report.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def _group_section(g: Group, prefix: Path, out_dir: Path) -> list[str]:
    seeds = {s for runs in g.ok.values() for s in runs} | {f["seed"] for f in g.failed}
    md = [f"## {g.title}", "", f"Seeds: {', '.join(map(str, sorted(seeds - {None})))}.", ""]
    free_flow = {r["free_flow_error"] for runs in g.ok.values() for r in runs.values()
                 if r.get("free_flow_error")}  # fmt: skip
    for error in sorted(free_flow):
        md += [f"The free-flow run failed, so the ratios are unknown: {error}", ""]
    md += [
        "| strategy | runs | failed | ratio to free flow | stops | others' extra delay (veh·h) "
        "| cross streets' extra delay (veh·h) | mean time loss (s) | p95 time loss (s) "
        "| pedestrians' time loss (s) | time to recover (s) | safety violations "
        "| guard rejections |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for label in g.labels:
        s = summary(g, label)
        name = "reference (no trip)" if label == REFERENCE else f"`{label}`"
        md.append(
            f"| {name} | {s['runs']} | {s['failed']} | {_f(s['ratio'], '.2f')} "
            f"| {_f(s['stops'], 'g')} | {_f(s['others_extra_delay_veh_h'], '+.3f')} "
            f"| {_f(s['cross_street_extra_delay_veh_h'], '+.3f')} "
            f"| {_f(s['mean_time_loss_s'], '.1f')} | {_f(s['p95_time_loss_s'], '.1f')} "
            f"| {_f(s['ped_time_loss_s'], '.1f')} | {_f(s['time_to_recover_s'], '.1f')} | {_f(s['safety_violations_total'], 'd')} "
            f"| {_f(s['guard_rejections_total'], 'd')} |"
        )
    md += ["", "Medians over the seeds that ran; extra delay: run minus the same seed's "
           "reference run; safety counts: totals over the seeds.", ""]  # fmt: skip
    md += _time_loss_part(g, Path(f"{prefix}-time-loss.png"), out_dir)
    md += _throughput_part(g, Path(f"{prefix}-throughput.png"), out_dir)
    md += _time_space_part(g, Path(f"{prefix}-time-space.png"), out_dir)
    return md


def _time_loss_part(g: Group, path: Path, out_dir: Path) -> list[str]:
    md = ["### Time loss of the other vehicles", ""]
    hists = {label: h for label in g.labels if (h := pooled_histogram(g, label))}
    quants = {label: q for label in g.labels if (q := quantile_medians(g, label))}
    if not hists and not quants:
        return [*md, "No distribution in these lines (written by an older clearway).", ""]
    figures.time_loss_figure(hists, quants, path, f"{g.title}: time loss of other vehicles")
    md += [f"![time loss of other vehicles]({path.relative_to(out_dir).as_posix()})", ""]
    md += ["| strategy | " + " | ".join(TABLE_QUANTILES) + " |",
           "| --- |" + " ---: |" * len(TABLE_QUANTILES)]  # fmt: skip
    for label, q in quants.items():
        md.append(f"| {label} | " + " | ".join(_f(q.get(k), ".1f") for k in TABLE_QUANTILES) + " |")
    return [*md, "", "Time-loss quantiles (s), median over seeds.", ""]


def _throughput_part(g: Group, path: Path, out_dir: Path) -> list[str]:
    md = ["### Throughput", ""]
    series = {label: a for label in g.labels if (a := mean_arrivals(g, label))}
    if not series:
        return [*md, "No arrivals per interval in these lines.", ""]
    figures.throughput_figure(series, path, f"{g.title}: other vehicles arrived, mean over seeds")
    return [*md, f"![throughput over time]({path.relative_to(out_dir).as_posix()})", ""]


def _time_space_part(g: Group, path: Path, out_dir: Path) -> list[str]:
    md = ["### Priority vehicles", ""]
    with_traces = {label: runs for label, runs in g.ok.items()
                   if label != REFERENCE and any(r.get("traces") for r in runs.values())}  # fmt: skip
    if not with_traces:
        return [*md, "No trace in these lines.", ""]
    seed = min(s for runs in with_traces.values() for s, r in runs.items() if r.get("traces"))
    panels, missing = [], []
    for label in sorted(with_traces, key=order):
        line = with_traces[label].get(seed)
        if line is None or not line.get("traces"):
            missing.append(label)
            continue
        panels += [(label, expand_trace(t)) for t in line["traces"]]
    figures.time_space_panels_figure(panels, path, f"{g.title}, seed {seed}")
    md.append(f"![time-space diagrams, seed {seed}]({path.relative_to(out_dir).as_posix()})")
    md += ["", f"Seed {seed}: distance along the route over time, each signal drawn at its stop "
           "line in the colour the vehicle's own movement showed."]  # fmt: skip
    if missing:
        md.append(f"No trace of seed {seed} for: {', '.join(missing)}.")
    return [*md, ""]


def _failed_table(groups: Sequence[Group]) -> list[str]:
    md = ["| scenario | label | seed | error |", "| --- | --- | ---: | --- |"]
    for g in groups:
        for f in sorted(g.failed, key=lambda f: (order(f["label"]), f["seed"] or 0)):
            error = " ".join(str(f.get("error", "")).split()).replace("|", "\\|")
            seed = "—" if f["seed"] is None else f["seed"]
            md.append(f"| {g.title} | {f['label']} | {seed} | {error} |")
    return md


def _f(value: object, spec: str) -> str:
    if value is None:
        return "—"
    if spec == "d":
        return str(int(value))  # type: ignore[call-overload]
    return format(value, spec)
