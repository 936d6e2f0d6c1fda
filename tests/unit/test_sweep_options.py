"""The sweep's options, case layout and checks, without running SUMO."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from clearway.cli.app import app
from clearway.cli.scenarios import check_scenario_names, priority_setups, split_option
from clearway.errors import ConfigError
from clearway.evaluation.evaluate import EvaluationResult, EvaluationSettings
from clearway.evaluation.sweep import (
    SweepCase,
    SweepResult,
    evaluate_sweep,
    run_count,
    sweep_cases,
)


def _plan(name: str, seeds: int = 1) -> SimpleNamespace:
    return SimpleNamespace(name=name, scenarios={s: object() for s in range(1, seeds + 1)})


def _result(scenario: str, normal: str) -> EvaluationResult:
    header = {"scenario": scenario, "normal": normal}
    return EvaluationResult(header, [], {}, [], {}, [])


def test_repeated_and_comma_separated_options_give_each_item_once_in_order():
    values = ["spillback,crossing", " grid:3x3:light ", "spillback,", ""]
    assert split_option(values) == ("spillback", "crossing", "grid:3x3:light")
    assert split_option(None) == ()


def test_an_unknown_scenario_in_the_list_is_named_with_the_valid_ones():
    check_scenario_names(["spillback", "grid:3x3", "grid:4x2:heavy", "berlin"])
    with pytest.raises(ConfigError) as err:
        check_scenario_names(["spillback", "manhattan", "grid:3"])
    message = str(err.value)
    assert "'manhattan'" in message and "'grid:3'" in message and "'spillback'" not in message
    assert "spillback, crossing, convoy, berlin" in message and "grid:NxM" in message


def test_net_is_not_combined_with_named_scenarios():
    with pytest.raises(ConfigError, match="--net and --scenario cannot be combined"):
        priority_setups(Path("city.net.xml"), None, ["spillback"], [], out_dir=Path("o"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scenario", "spillback,manhattan"], "unknown scenario(s) 'manhattan'"),
        (["--scenario", "spillback", "--normal", "fixed-time,magic"], "--normal 'magic'"),
    ],
)
def test_bad_sweep_options_are_refused_before_anything_is_built(tmp_path, args, message):
    result = CliRunner().invoke(app, ["evaluate", *args, "--out-dir", str(tmp_path)])
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "scenarios").exists()


def test_one_case_runs_where_it_always_did_and_several_get_a_folder_each():
    (lone,) = sweep_cases([_plan("spillback")], ["fixed-time"], Path("out"))
    assert lone.out_dir == Path("out/spillback")
    assert lone.free_flow_dir == Path("out/spillback/free-flow")
    cases = sweep_cases([_plan("a"), _plan("b")], ["fixed-time", "max-pressure"], Path("out"))
    assert [(c.plan.name, c.normal, c.out_dir) for c in cases] == [
        ("a", "fixed-time", Path("out/a/fixed-time")),
        ("a", "max-pressure", Path("out/a/max-pressure")),
        ("b", "fixed-time", Path("out/b/fixed-time")),
        ("b", "max-pressure", Path("out/b/max-pressure")),
    ]
    # One free-flow run per scenario, shared by its normal controllers.
    assert {c.free_flow_dir for c in cases} == {Path("out/a/free-flow"), Path("out/b/free-flow")}


def test_run_count_is_every_seeded_run_plus_one_free_flow_run_per_scenario():
    cases = sweep_cases([_plan("a", 3), _plan("b", 3)], ["fixed-time", "actuated"], Path("o"))
    settings = EvaluationSettings(strategies=("none", "corridor"))
    assert run_count(cases, settings) == 2 * 2 * 3 * (2 + 1) + 2


@pytest.mark.parametrize(
    "cases, message",
    [
        ([], "give at least one --scenario"),
        ([SweepCase(_plan("a"), "magic", Path("o"))], "--normal 'magic': choose one of"),
        ([SweepCase(_plan("a", 0), "fixed-time", Path("o"))], "scenario 'a' has no seed"),
        ([SweepCase(_plan("a"), "fixed-time", Path("o")),
          SweepCase(_plan("a"), "actuated", Path("p"))], "both named 'a'"),
    ],
)  # fmt: skip
def test_bad_cases_are_refused_before_anything_runs(cases, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        evaluate_sweep(cases, EvaluationSettings())


def test_the_same_scenario_and_normal_twice_is_refused():
    plan = _plan("a")
    twice = [SweepCase(plan, "fixed-time", Path("o")), SweepCase(plan, "fixed-time", Path("p"))]
    with pytest.raises(ConfigError, match="listed twice"):
        evaluate_sweep(twice, EvaluationSettings())


def test_json_of_one_case_is_its_own_and_of_several_a_list():
    one = _result("spillback", "fixed-time")
    assert SweepResult((one,), (), 1.0).to_dict() == one.to_dict()
    failed = ({"scenario": "b", "normal": "actuated", "label": "none", "seed": 1},)
    many = SweepResult(
        (one, _result("spillback", "actuated"), _result("b", "actuated")), failed, 12.34
    )
    data = many.to_dict()
    assert data["scenarios"] == ["spillback", "b"]
    assert data["normals"] == ["fixed-time", "actuated"]
    assert data["wall_s"] == 12.3 and data["failed"] == list(failed)
    assert data["avl"] is None  # the exact feed
    assert [(r["scenario"], r["normal"]) for r in data["results"]] == [
        ("spillback", "fixed-time"), ("spillback", "actuated"), ("b", "actuated"),
    ]  # fmt: skip
