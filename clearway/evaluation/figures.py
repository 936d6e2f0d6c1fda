"""Figures of an evaluation (matplotlib, Agg backend: files only, no display needed).

* ``time-space-<strategy>.png``: per strategy, the priority vehicle's distance along its route
  over time (a convoy's tail dashed), with every signal on the route drawn at its stop line as a
  band coloured by what the vehicle's own movement showed — green, yellow, red. Where the line
  crosses a red band the vehicle stood or ran it; a flat line is a stop.
* ``others-extra-delay.png``: extra delay of everyone else (all vehicles, and the cross streets
  of the corridor) per strategy: the median bar and each seed as a dot.

``clearway report`` draws, per scenario, from the run lines (:mod:`clearway.evaluation.report`):
:func:`time_loss_figure` (the others' time loss per strategy: CDF of the histograms pooled over
seeds, and a box per strategy from the seeds' median quantiles), :func:`throughput_figure`
(arrivals per interval, mean over seeds) and :func:`time_space_panels_figure` (one panel per
strategy and trip).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from clearway.evaluation.trace import GREEN, RED, YELLOW, Trace  # noqa: E402

_COLOURS = {GREEN: "#2ca02c", YELLOW: "#ffbf00", RED: "#d62728"}
#: Drawn height of a signal band as a share of the route length: tall enough to stay visible
#: behind the trajectory of a vehicle standing at the stop line.
_BAND_SHARE = 0.03


def write_figures(
    out_dir: Path,
    traces: Mapping[str, Sequence[Trace]],
    rows: Sequence[Mapping],
    strategies: Sequence[str],
    scenario: str,
    trace_seed: int,
) -> list[Path]:
    """Write every figure into ``out_dir``; returns the files written.

    ``traces`` are one seed's (``trace_seed``) per strategy; ``rows`` all seeds' results.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for strategy in strategies:
        if traces.get(strategy):
            path = out_dir / f"time-space-{strategy}.png"
            time_space_figure(traces[strategy], path, f"{scenario}, seed {trace_seed} — {strategy}")
            files.append(path)
    path = out_dir / "others-extra-delay.png"
    seeds = len({r["seed"] for r in rows})
    extra_delay_figure(rows, strategies, path, f"{scenario} ({seeds} seed(s))")
    files.append(path)
    return files


def time_space_figure(traces: Sequence[Trace], path: Path, title: str) -> Path:
    """One panel per trip: trajectory over signal-state bands."""
    fig, axes = plt.subplots(len(traces), 1, figsize=(9, 4.5 * len(traces)), squeeze=False)
    for ax, trace in zip(axes[:, 0], traces, strict=True):
        _time_space_panel(ax, trace)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_space_panel(ax: Axes, trace: Trace) -> None:
    """Draw one trip's trajectory over its signals' bands on ``ax`` (for figures that add
    to it, e.g. a replay's logged holds)."""
    _time_space_panel(ax, trace)


def band_height_m(trace: Trace) -> float:
    """Drawn height of a signal band on a trip's panel (m of route)."""
    return max(_BAND_SHARE * trace.route_length_m, 8.0)


def _time_space_panel(ax: Axes, trace: Trace) -> None:
    t = list(trace.time_s)
    if not t:
        ax.set_title(f"{trace.trip_id}: no data")
        return
    t0, t1 = _window(trace)
    band_m = band_height_m(trace)
    for sig, aspects in zip(trace.signals, trace.aspects, strict=True):
        for start, end, a in _runs(t, aspects):
            if end < t0 or start > t1:
                continue
            ax.broken_barh(
                [(start, end - start)],
                (sig.distance_m - band_m / 2, band_m),
                facecolors=_COLOURS[a],
                alpha=0.85,
                linewidth=0,
            )
        ax.annotate(
            sig.junction_id[:14], (t1, sig.distance_m), fontsize=7, va="center",
            xytext=(3, 0), textcoords="offset points",
        )  # fmt: skip
    ax.plot(t, trace.distance_m, color="black", linewidth=1.1, label=f"{trace.trip_id} (lead)")
    if any(
        not math.isnan(a) and a != b
        for a, b in zip(trace.tail_distance_m, trace.distance_m, strict=True)
    ):
        ax.plot(t, trace.tail_distance_m, "k--", linewidth=1.0, label="convoy tail")
    ax.set_xlim(t0, t1)
    ax.set_ylim(-20, trace.route_length_m + 20)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance along route (m)")
    ax.set_title(f"{trace.trip_id}: signals on its route, state of its own movement")
    ax.legend(loc="upper left", fontsize=8)


def extra_delay_figure(
    rows: Sequence[Mapping], strategies: Sequence[str], path: Path, title: str
) -> Path:
    """Bars: median extra delay per strategy (all others, cross streets); dots: seeds."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    keys = (
        ("others_extra_delay_veh_h", "all other vehicles", "#1f77b4"),
        ("cross_street_extra_delay_veh_h", "cross streets of the corridor", "#ff7f0e"),
    )
    width = 0.38
    for k, (key, label, colour) in enumerate(keys):
        for i, strategy in enumerate(strategies):
            values = [r[key] for r in rows if r["strategy"] == strategy and r[key] is not None]
            x = i + (k - 0.5) * width
            if values:
                med = statistics.median(values)
                ax.bar(x, med, width, color=colour, label=label if i == 0 else None)
                ax.scatter([x] * len(values), values, color="black", s=10, zorder=3)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(strategies)), list(strategies))
    ax.set_ylabel("extra delay vs. same seed without the trip (veh·h)")
    ax.set_title(f"{title}: what priority cost everyone else")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_space_panels_figure(panels: Sequence[tuple[str, Trace]], path: Path, title: str) -> Path:
    """One time-space panel per ``(caption, trace)``, stacked (e.g. one per strategy)."""
    n = max(len(panels), 1)
    fig, axes = plt.subplots(n, 1, figsize=(9, 4.2 * n), squeeze=False)
    for ax, (caption, trace) in zip(axes[:, 0], panels, strict=False):
        _time_space_panel(ax, trace)
        ax.set_title(f"{caption}: {trace.trip_id}", fontsize=10)
    if not panels:
        axes[0, 0].set_title("no trace")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def time_loss_figure(
    histograms: Mapping[str, tuple[Sequence[float], Sequence[int]]],
    quantiles: Mapping[str, Mapping[str, float]],
    path: Path,
    title: str,
) -> Path:
    """Left: share of vehicles below each histogram edge, per label. Right: boxes.

    Parameters
    ----------
    histograms
        Per label, ``(edges_s, counts)``: lower bin edges (s) and vehicles per bin, the last
        bin open (pooled over seeds by adding counts).
    quantiles
        Per label, ``p5``, ``p25``, ``p50``, ``p75``, ``p95``, ``p99`` and ``max`` (s): a box
        p25–p75 with its median, whiskers p5–p95, dots p99 and max.
    """
    fig, (cdf, box) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, (edges, counts) in histograms.items():
        total = sum(counts)
        if total == 0:
            continue
        # The share below edges[i + 1] is exact; between edges the line only joins the dots.
        below, acc = [], 0
        for c in counts[:-1]:
            acc += c
            below.append(acc / total)
        cdf.plot(edges[1:], below, marker=".", label=label, **_style(label))
    cdf.set_xscale("log")
    cdf.set_ylim(0, 1.02)
    cdf.set_xlabel("time loss (s)")
    cdf.set_ylabel("share of other vehicles below")
    cdf.grid(True, which="both", alpha=0.3)
    cdf.legend(fontsize=8)
    cdf.set_title("distribution, all seeds pooled", fontsize=10)
    stats, labels = [], []
    for label, q in quantiles.items():
        keys = ("p5", "p25", "p50", "p75", "p95")
        if not all(q.get(k) is not None for k in keys):
            continue
        fliers = [q[k] for k in ("p99", "max") if q.get(k) is not None]
        stats.append({"whislo": q["p5"], "q1": q["p25"], "med": q["p50"], "q3": q["p75"],
                      "whishi": q["p95"], "fliers": fliers, "label": label})  # fmt: skip
        labels.append(label)
    if stats:
        box.bxp(stats, showfliers=True)
    box.set_yscale("symlog", linthresh=10.0)
    box.set_ylabel("time loss (s)")
    box.set_title("median over seeds: box p25–p75, whiskers p5–p95, dots p99, max", fontsize=9)
    box.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def throughput_figure(
    series: Mapping[str, tuple[float, Sequence[float]]], path: Path, title: str
) -> Path:
    """Arrivals per interval over time, one line per label.

    ``series``: per label, ``(interval_s, arrivals)`` with ``arrivals[k]`` the (mean) count in
    ``[k * interval_s, (k + 1) * interval_s)``.
    """
    fig, ax = plt.subplots(figsize=(9, 4.2))
    unit = "interval"
    for label, (interval_s, arrivals) in series.items():
        edges = [k * interval_s for k in range(len(arrivals) + 1)]
        ax.stairs(arrivals, edges, label=label, linewidth=1.4, baseline=None, **_style(label))
        unit = f"{interval_s:g} s"
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"vehicles arrived per {unit}")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _style(label: str) -> dict:
    # The reference (no trip) is the baseline every strategy is read against: black, dashed.
    # Drawn on top: a strategy that changes nothing hides under it, dashed, not over it.
    ref = label.startswith("reference")
    return {"color": "black", "linestyle": "--", "zorder": 3} if ref else {"zorder": 2}


def _window(trace: Trace) -> tuple[float, float]:
    seen = [
        t
        for t, d, e in zip(trace.time_s, trace.distance_m, trace.tail_distance_m, strict=True)
        if not (math.isnan(d) and math.isnan(e))
    ]
    if not seen:
        return trace.time_s[0], trace.time_s[-1]
    return seen[0] - 10.0, seen[-1] + 10.0


def _runs(times: Sequence[float], aspects: str) -> list[tuple[float, float, str]]:
    """Maximal runs of one aspect as (start, end, aspect); each tick lasts until the next."""
    out: list[tuple[float, float, str]] = []
    if not times:
        return out
    step = times[1] - times[0] if len(times) > 1 else 1.0
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or aspects[i] != aspects[start]:
            end = times[i] if i < len(times) else times[-1] + step
            # A tick's state holds from the step before it was observed.
            out.append((times[start] - step, end - step, aspects[start]))
            start = i
    return out
