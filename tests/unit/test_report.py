"""``clearway report`` on hand-made run lines: tables, figures, failures, bad input; and the
compact line data it reads (time-loss distribution, throughput, compact traces)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from clearway.errors import ConfigError
from clearway.evaluation.free_flow import FreeFlow
from clearway.evaluation.metrics import (
    TIME_LOSS_EDGES_S,
    others_distribution,
    throughput,
    time_loss_distribution,
)
from clearway.evaluation.priority_metrics import OthersDelay, TripOutcome
from clearway.evaluation.priority_rows import (
    TRACE_MAX_POINTS,
    TRACE_TOLERANCE_M,
    compact_trace,
    expand_trace,
    reference_row,
    run_line,
)
from clearway.evaluation.priority_run import RunMeasures
from clearway.evaluation.report import read_lines, write_report
from clearway.evaluation.trace import SignalOnRoute, Trace
from clearway.sim.priority_trips import PriorityTrip

EV = PriorityTrip("ev1", ("e1", "e2"), 100.0)


def _trace(n=120, convoy=False):
    """Off the road for 20 ticks, 10 m/s for 40, stopped 30, accelerating, then gone."""
    t = [float(k) for k in range(n)]
    d = []
    for k in range(n):
        if k < 20 or k >= 110:
            d.append(math.nan)
        elif k < 60:
            d.append(10.0 * (k - 20))
        elif k < 90:
            d.append(400.0)
        else:
            d.append(400.0 + 0.5 * (k - 90) ** 2)
    tail = [x - 15.0 if not math.isnan(x) else x for x in d] if convoy else d
    aspects = "".join("G" if k < 50 else "Y" if k < 54 else "R" if k < 95 else "G" for k in t)
    return Trace(
        trip_id="ev1", time_s=tuple(t), distance_m=tuple(d), speed_mps=(10.0,) * n,
        tail_distance_m=tuple(tail), signals=(SignalOnRoute("S1", "J1", 400.0, (0,)),),
        aspects=(aspects,), route_length_m=700.0,
    )  # fmt: skip


def _line(label, seed, scenario="A", **kw):
    base = {"status": "ok", "scenario": scenario, "label": label, "seed": seed,
            "strategy": "none" if label == "reference" else label}  # fmt: skip
    return {**base, **kw}


def _hist(counts):
    return {"edges_s": list(TIME_LOSS_EDGES_S), "counts": counts + [0] * (21 - len(counts))}


def _quant(p50):
    return {"p5": 1.0, "p10": 2.0, "p25": 5.0, "p50": p50, "p75": 40.0, "p90": 60.0,
            "p95": 70.0, "p99": 90.0, "max": 120.0}  # fmt: skip


def _run(label, seed, ratio, stops, total_h, mean_s, violations=0, rejections=0, recover=None,
         ped=None):
    return _line(
        label, seed, ratio=ratio, stops=stops, others_total_delay_veh_h=total_h,
        cross_street_time_loss_veh_h=0.5, mean_time_loss_s=mean_s, p95_time_loss_s=2 * mean_s,
        time_to_recover_s=recover, safety_violations=violations, guard_rejections=rejections,
        teleports=0, others_time_loss_quantiles_s=_quant(mean_s),
        others_time_loss_histogram=_hist([seed, 2, 3]),
        others_arrivals={"interval_s": 60.0, "counts": [seed, 4, 6]},
        traces=[compact_trace(_trace())], ped_time_loss_s=ped,
    )  # fmt: skip


def _ref(seed, total_h, scenario="A"):
    return _line(
        "reference", seed, scenario, others_total_delay_veh_h=total_h,
        cross_street_time_loss_veh_h=0.4, mean_time_loss_s=10.0, p95_time_loss_s=20.0,
        safety_violations=0, teleports=0, others_time_loss_quantiles_s=_quant(10.0),
        others_time_loss_histogram=_hist([5, 1]),
        others_arrivals={"interval_s": 60.0, "counts": [2, 4]},
    )  # fmt: skip


@pytest.fixture
def results(tmp_path):
    lines = [
        _ref(1, 10.0),
        _run("corridor", 1, 1.1, 0, 10.5, 12.0, violations=1, rejections=1, recover=20.0,
             ped=30.0),
        _run("none", 1, 2.0, 3, 10.0, 10.0),
        _ref(2, 11.0),
        _run("corridor", 2, 1.3, 1, 12.0, 14.0, violations=1, rejections=2, recover=30.0,
             ped=40.0),
        _run("none", 2, 1.8, 2, 11.1, 11.0),
        _ref(1, 3.0, scenario="B"),
        {**_line("corridor", 1, "B"), "status": "failed", "error": "corridor run, seed 1: boom"},
        # A failed run rerun successfully: the later line counts.
        {**_line("none", 1, "B"), "status": "failed", "error": "worker died"},
        {**_run("none", 1, 1.5, 1, 3.2, 9.0), "scenario": "B", "free_flow_error": "ff broke"},
        {**_line("local", None, "B"), "status": "failed", "error": "no seed"},
    ]
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _section(md, title):
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _row(section, name):
    line = next(x for x in section.splitlines() if x.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_tables_hold_medians_over_seeds_and_extra_delay_against_the_same_seed(results, tmp_path):
    md = write_report(results, tmp_path / "rep").read_text()
    a = _section(md, "A")
    # strategy, runs, failed, ratio, stops, extra, cross extra, mean, p95, recover, viol., rej.
    assert _row(a, "`corridor`") == [
        "`corridor`", "2", "0", "1.20", "0.5", "+0.750", "+0.100", "13.0", "26.0", "35.0",
        "25.0", "2", "3",
    ]  # fmt: skip
    # none: extra 10.0-10.0 = 0, 11.1-11.0 = 0.1 -> median 0.05.
    assert _row(a, "`none`")[:6] == ["`none`", "2", "0", "1.90", "2.5", "+0.050"]
    assert _row(a, "`none`")[9] == "—"  # nobody walked: no pedestrian figure, not 0
    assert _row(a, "`none`")[10] == "—"  # no recovery
    ref = _row(a, "reference (no trip)")
    assert ref[1:3] == ["2", "0"] and ref[5] == "—" and ref[7] == "10.0"
    # Time-loss quantiles table: corridor's p50 is the median of 12 and 14.
    assert _row(a, "corridor")[1] == "13.0"
    b = _section(md, "B")
    assert _row(b, "`corridor`")[1:4] == ["0", "1", "—"]
    assert _row(b, "`none`")[1:6] == ["1", "0", "1.50", "1", "+0.200"]
    assert "1 line(s) were repeated runs" in md


def test_failed_runs_are_listed_and_figures_linked(results, tmp_path):
    out = tmp_path / "rep"
    md = write_report(results, out).read_text()
    failed = _section(md, "Failed runs")
    assert "| B | corridor | 1 | corridor run, seed 1: boom |" in failed
    assert "| B | local | — | no seed |" in failed
    assert "worker died" not in failed  # superseded by the rerun
    b = _section(md, "B")
    assert "Seeds: 1." in b and "free-flow run failed, so the ratios are unknown: ff broke" in b
    assert _row(b, "`local`")[1:3] == ["0", "1"]
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 6  # two scenarios: time loss, throughput, time-space
    for link in links:
        png = out / link
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_lines_are_grouped_by_normal_control(tmp_path):
    lines = [
        {**_ref(1, 10.0), "normal": "fixed-time"},
        {**_run("corridor", 1, 1.1, 0, 10.5, 12.0), "normal": "fixed-time"},
        {**_ref(1, 20.0), "normal": "max-pressure"},
        {**_run("corridor", 1, 1.2, 0, 20.1, 12.0), "normal": "max-pressure"},
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)))
    md = write_report(path, tmp_path / "rep").read_text()
    assert _row(_section(md, "A (normal control: fixed-time)"), "`corridor`")[5] == "+0.500"
    assert _row(_section(md, "A (normal control: max-pressure)"), "`corridor`")[5] == "+0.100"


def test_scenarios_whose_names_look_alike_keep_their_own_figures(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_ref(1, 1.0, "g:1")) + "\n" + json.dumps(_ref(1, 1.0, "g-1")))
    md = write_report(path, tmp_path / "rep").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(set(links)) == 4
    assert all((tmp_path / "rep" / link).is_file() for link in links)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"status": "ok"}\n', "line 1: not a run line .*missing scenario, label, strategy, seed"),
        ("\n" + json.dumps(_ref(1, 1.0)) + "\n{oops\n", "line 3: not JSON"),
        (json.dumps(_ref(1, 1.0)) + "\n[1, 2]\n", "line 2: a run line is a JSON object"),
        (json.dumps({**_ref(1, 1.0), "seed": "one"}), "line 1: seed must be an integer"),
        (json.dumps({**_ref(1, 1.0), "status": "done"}), "line 1: status must be ok or failed"),
        (json.dumps({**_ref(1, 1.0), "mean_time_loss_s": "x"}), "line 1: mean_time_loss_s must"),
        (json.dumps({**_run("none", 1, 1, 1, 1, 1), "traces": [{"trip_id": "x"}]}),
         "line 1: malformed distribution, arrivals or trace"),
        (json.dumps({**_ref(1, 1.0), "others_arrivals": {"interval_s": 0, "counts": [1]}}),
         "line 1: malformed"),
        ("\n  \n", "holds no run line"),
    ],
)  # fmt: skip
def test_malformed_input_names_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        read_lines(path)
    assert str(path) in str(err.value)


def test_a_missing_file_and_the_command_exit_2(tmp_path):
    from clearway.cli.app import app

    with pytest.raises(ConfigError, match="not found"):
        read_lines(tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_ref(1, 1.0)) + "\nnot json\n")
    result = CliRunner().invoke(app, ["report", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "line 2: not JSON" in " ".join(result.output.split())
    assert not (tmp_path / "r" / "report.md").exists()


def test_time_loss_distribution_and_throughput_by_hand():
    dist = time_loss_distribution([0.0, 1.0, 2.0, 4.0, 100.0, 5000.0])
    # [0,2): 0, 1; [2,5): 2, 4; [90,120): 100; >= 3600: 5000
    assert dist.counts[:3] == (2, 2, 0) and dist.counts[9] == 1 and dist.counts[-1] == 1
    assert sum(dist.counts) == dist.vehicles == 6
    assert dist.quantiles_s["p50"] == pytest.approx(3.0) and dist.quantiles_s["max"] == 5000.0
    assert dist.quantiles_s["p95"] == pytest.approx(np.percentile([0, 1, 2, 4, 100, 5000], 95))
    assert time_loss_distribution([]).quantiles_s == {}
    flow = throughput([0.0, 59.9, 60.0, 130.0, -1.0], duration_s=200.0)
    assert flow.arrivals == (2, 1, 1, 0)
    assert throughput([250.0], duration_s=120.0).arrivals == (0, 0, 0, 0, 1)


def test_others_distribution_leaves_out_priority_vehicles(tmp_path):
    p = tmp_path / "tripinfo.xml"
    p.write_text("""<tripinfos>
    <tripinfo id="a" depart="10" arrival="70" timeLoss="20" departDelay="0"/>
    <tripinfo id="b" depart="12" arrival="-1" timeLoss="30" departDelay="0"/>
    <tripinfo id="c" depart="-1" arrival="-1" timeLoss="0" departDelay="50"/>
    <tripinfo id="ev1" depart="100" arrival="190" timeLoss="8" departDelay="2"/>
</tripinfos>""")
    dist, flow = others_distribution(p, ["ev1"], duration_s=180.0)
    assert dist.vehicles == 3 and dist.quantiles_s["max"] == 30.0
    assert flow.arrivals == (0, 1, 0)  # a at 70 s; ev1 not counted, b and c never arrived


def test_compact_trace_redraws_the_recorded_one(tmp_path):
    for convoy in (False, True):
        trace = _trace(convoy=convoy)
        data = json.loads(json.dumps(compact_trace(trace)))
        # The curve after the stop takes a few points; the straight parts two each.
        assert len(json.dumps(data)) < 800 and len(data["time_s"]) <= 16
        back = expand_trace(data)
        lo = trace.time_s.index(back.time_s[0])
        n = len(back.time_s)
        assert back.time_s == trace.time_s[lo : lo + n] and back.time_s[0] == 10.0
        for got, want in ((back.distance_m, trace.distance_m),
                          (back.tail_distance_m, trace.tail_distance_m)):  # fmt: skip
            want = want[lo : lo + n]
            assert [math.isnan(x) for x in got] == [math.isnan(x) for x in want]
            assert np.nanmax(np.abs(np.subtract(got, want))) <= TRACE_TOLERANCE_M
        assert back.aspects[0] == trace.aspects[0][lo : lo + n]
        assert ("tail_time_s" in data) is convoy


def test_a_noisy_trace_is_cut_to_the_point_budget():
    rng = np.random.default_rng(1)
    n = 2000
    d = np.cumsum(rng.uniform(0, 20, n))
    trace = Trace("ev1", tuple(map(float, range(n))), tuple(d), (0.0,) * n, tuple(d), (), (),
                  float(d[-1]))  # fmt: skip
    data = compact_trace(trace)
    assert len(data["time_s"]) <= TRACE_MAX_POINTS
    back = expand_trace(data)
    assert len(back.time_s) == n and not any(math.isnan(x) for x in back.distance_m)


def test_run_line_carries_the_report_data_and_keeps_its_keys():
    dist, flow = time_loss_distribution([1.0, 3.0, 50.0]), throughput([30.0, 90.0], 120.0)
    run = RunMeasures(
        label="corridor", strategy="corridor", seed=1,
        trips=(TripOutcome("ev1", True, 100.0, 0.0, 0),),
        others=OthersDelay(3, 3600.0, 18.0, 45.0), cross_time_loss_s=0.0, recoveries_s=(),
        safety_violations=0, guard_rejections=0, teleports=0, requests_completed=1, wall_s=1.0,
        traces=(_trace(),), others_time_loss=dist, others_throughput=flow,
    )  # fmt: skip
    line = json.loads(
        json.dumps(run_line("A", "corridor", run, [EV], {"ev1": FreeFlow("ev1", 80.0, 0)}))
    )
    assert line["others_total_delay_veh_h"] == 1.0 and line["ratio"] == 1.25
    assert line["others_time_loss_histogram"]["counts"][:4] == [1, 1, 0, 0]
    assert line["others_time_loss_quantiles_s"]["max"] == 50.0
    assert line["others_arrivals"] == {"interval_s": 60.0, "counts": [1, 1]}
    assert [t["trip_id"] for t in line["traces"]] == ["ev1"]
    ref = reference_row("A", run)
    assert "traces" not in ref and ref["others_arrivals"]["counts"] == [1, 1]
    # Measures without the new data (older pickles, hand-made ones) give the old keys only.
    bare = reference_row("A", replace(run, others_time_loss=None, others_throughput=None))
    assert "others_arrivals" not in bare and "others_time_loss_histogram" not in bare
