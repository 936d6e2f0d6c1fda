"""Gate: every line and every branch of ``clearway/signals/safety`` is exercised by the fast,
pure limit tests (``test_guard_rules_at_limits.py``), and stays so.

Why a subprocess over that one module, not ``--cov-fail-under`` on the whole run:

* the gate does not depend on how the outer run is invoked (``-n 2``, ``-k``, ``-m "not slow"``,
  with or without ``--cov``): it starts its own coverage in a fresh interpreter, with its own
  data file in ``tmp_path``, so it is xdist-safe and never reads or writes the outer run's data;
* the measured suite is a subset of ``tests/safety``, so 100 % here implies 100 % for
  ``tests/safety`` as a whole; it is stricter on purpose: a new branch in the guard needs a
  limit test of its own, not a lucky draw of the property tests;
* it takes a few seconds (the SUMO-based tests would take minutes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIMIT_TESTS = "tests/safety/test_guard_rules_at_limits.py"
PACKAGE = "clearway.signals.safety"
FILES = {"__init__.py", "commands.py", "guard.py", "rules.py"}


def test_the_limit_tests_cover_every_branch_of_the_safety_guard(tmp_path: Path) -> None:
    assert importlib.util.find_spec("pytest_cov") is not None, (
        "pytest-cov is missing: pip install -e '.[test]'"
    )
    report = tmp_path / "coverage.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_"))}  # fmt: skip
    env["COVERAGE_FILE"] = str(tmp_path / ".coverage")
    cmd = [
        sys.executable, "-m", "pytest", LIMIT_TESTS, "-q", "-p", "no:cacheprovider",
        "-p", "no:xdist", "-p", "no:randomly", f"--cov={PACKAGE}", "--cov-branch",
        f"--cov-report=json:{report}", "--cov-report=term-missing", "--cov-fail-under=100",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(report.read_text())
    measured = {Path(name).name: f for name, f in data["files"].items()}
    assert set(measured) >= FILES, f"not measured: {FILES - set(measured)}"
    gaps = {
        name: {
            "missing_lines": f["missing_lines"],
            "missing_branches": f.get("missing_branches", []),
        }
        for name, f in measured.items()
        if f["missing_lines"] or f.get("missing_branches")
    }
    assert data["meta"]["branch_coverage"], "branch coverage was not measured"
    assert not gaps, f"uncovered lines/branches of {PACKAGE}: {gaps}\n{run.stdout[-3000:]}"
    assert data["totals"]["num_branches"] > 0
    assert data["totals"]["percent_covered"] == 100.0
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
