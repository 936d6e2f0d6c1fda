"""``clearway report`` on the run lines of a real (tiny) ``clearway evaluate --jsonl``."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from clearway.cli.app import app

pytestmark = pytest.mark.sumo


def test_report_of_a_real_evaluation_has_every_strategy_and_its_figures(tmp_path):
    lines = tmp_path / "runs.jsonl"
    # The scenario's default ambulance leaves at 300 s: an earlier one keeps the runs short.
    ran = CliRunner().invoke(app, [
        "evaluate", "--scenario", "grid:3x3:light", "--priority", "left1A1:C1right1@60",
        "--seeds", "1", "--strategies", "none,corridor", "--duration-s", "300",
        "--workers", "2", "--out-dir", str(tmp_path / "o"), "--jsonl", str(lines),
    ])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    runs = {r["label"]: r for r in map(json.loads, lines.read_text().splitlines())}
    assert set(runs) == {"reference", "none", "corridor"}
    for label, run in runs.items():
        assert run["status"] == "ok"
        assert sum(run["others_time_loss_histogram"]["counts"]) > 0
        assert len(run["others_arrivals"]["counts"]) == 5  # 300 s in 60 s intervals
        assert ("traces" in run) is (label != "reference")
    assert runs["corridor"]["traces"][0]["signals"]  # the route crosses signals
    sizes = [len(x) for x in lines.read_text().splitlines()]
    assert max(sizes) < 5000, sizes

    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(lines), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "report written to" in result.output
    md = (out / "report.md").read_text()
    for name in ("reference (no trip)", "`none`", "`corridor`"):
        assert f"| {name} |" in md
    row = next(x for x in md.splitlines() if x.startswith("| `corridor` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    totals = [runs[k]["others_total_delay_veh_h"] for k in ("corridor", "reference")]
    extra = round(totals[0] - totals[1], 4)  # the lines' totals have 4 decimals
    assert cells[3] == f"{runs['corridor']['ratio']:.2f}" and cells[5] == f"{extra:+.3f}"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(p.rsplit("-", 1)[-1] for p in links) == [
        "loss.png",
        "space.png",
        "throughput.png",
    ]
    for link in links:
        assert (out / link).stat().st_size > 5000
