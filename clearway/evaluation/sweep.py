"""``clearway evaluate`` over several scenarios × normal controllers, in one engine call.

A sweep is a list of :class:`SweepCase`: a plan (scenario, seeds, priority trips) and the normal
controller its runs use between holds. Every run of every case — per seed the reference run and
one run per strategy, plus one free-flow run per scenario (shared by its normal controllers) —
goes to a single :func:`~clearway.evaluation.engines.run_jobs` call, so the process pool (or
Ray) stays busy across scenarios and one progress count covers the whole sweep. Pairing the runs
into rows is :mod:`clearway.evaluation.evaluate`'s; evaluating one plan is a sweep of one case.

A run that fails, in any case, is reported and the others are kept. A run that finishes before
its scenario's free-flow run has its ``--jsonl`` line held back until the free-flow times are
known: the line's ratio needs them. The free-flow run itself has no line (every line is one
seeded run); its failure shows in its scenario's lines (``free_flow_error``) and in ``failed``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clearway.errors import ConfigError, SimulationError
from clearway.evaluation.engines import JobOutcome, run_jobs
from clearway.evaluation.evaluate import (
    FREE_FLOW_LABEL,
    EvaluationPlan,
    EvaluationResult,
    EvaluationSettings,
    FreeFlowOutcome,
    ProgressHook,
    RunHook,
    check_normal,
    check_settings,
    corridor_cross_streets,
    paired_result,
    plan_jobs,
    run_record,
)
from clearway.evaluation.free_flow import FreeFlow, free_flow_times
from clearway.evaluation.priority_run import RunJob, RunMeasures, run_job
from clearway.sim.priority_trips import PriorityTrip


@dataclass(frozen=True)
class SweepCase:
    """One (scenario, normal controller) of a sweep.

    Attributes
    ----------
    plan
        The scenario's plan; cases of the same scenario share it (and its free-flow run).
    normal
        Normal controller of every run of the case (:data:`clearway.bootstrap.NORMAL_STRATEGIES`).
    out_dir
        Where the case's runs go (``runs/seed<N>/<label>``, ``demand``, ``trips``).
    free_flow_dir
        Where the scenario's free-flow run goes; default ``out_dir / "free-flow"`` (the first
        case of a scenario decides).
    """

    plan: EvaluationPlan
    normal: str
    out_dir: Path
    free_flow_dir: Path | None = None


@dataclass(frozen=True)
class FreeFlowJob:
    """A scenario's free-flow run (:func:`~clearway.evaluation.free_flow.free_flow_times`) as an
    engine job, so it runs beside the other runs instead of before them."""

    scenario_name: str
    net_file: Path
    trips: tuple[PriorityTrip, ...]
    out_dir: Path
    label: str = FREE_FLOW_LABEL


@dataclass(frozen=True)
class SweepResult:
    """Every case's :class:`~clearway.evaluation.evaluate.EvaluationResult`, in case order.

    ``failed`` lists every failed run once, with its ``scenario`` and ``normal`` (``None`` for
    a free-flow run, which has no controller) on top of the fields of the case's ``failed``.
    ``wall_s`` is the whole sweep's wall-clock time (s).
    """

    results: tuple[EvaluationResult, ...]
    failed: tuple[dict, ...]
    wall_s: float

    def to_dict(self) -> dict:
        """The ``--json`` document: one case's own JSON, or the sweep's list of them."""
        if len(self.results) == 1:
            return self.results[0].to_dict()
        return {
            "scenarios": list(dict.fromkeys(r.header["scenario"] for r in self.results)),
            "normals": list(dict.fromkeys(r.header["normal"] for r in self.results)),
            # One EvaluationSettings for the whole sweep: every case heard the same AVL unit.
            "avl": self.results[0].header.get("avl") if self.results else None,
            "wall_s": round(self.wall_s, 1),
            "results": [r.to_dict() for r in self.results],
            "failed": list(self.failed),
        }


def sweep_cases(
    plans: Sequence[EvaluationPlan], normals: Sequence[str], root: Path
) -> list[SweepCase]:
    """Every plan under every normal controller, scenario by scenario.

    A lone case runs in ``root/<scenario>``; several run in ``root/<scenario>/<normal>`` (the
    free-flow run in ``root/<scenario>/free-flow``).
    """
    single = len(plans) * len(normals) == 1
    return [
        SweepCase(plan, normal, root / plan.name if single else root / plan.name / normal,
                  free_flow_dir=root / plan.name / "free-flow")  # fmt: skip
        for plan in plans
        for normal in normals
    ]


def run_count(cases: Sequence[SweepCase], settings: EvaluationSettings) -> int:
    """Engine jobs of a sweep: per case and seed the reference and the strategies, plus one
    free-flow run per scenario."""
    runs = sum(len(c.plan.scenarios) * (len(settings.strategies) + 1) for c in cases)
    return runs + len({c.plan.name for c in cases})


def evaluate_sweep(
    cases: Sequence[SweepCase],
    settings: EvaluationSettings,
    *,
    on_progress: ProgressHook | None = None,
    on_run: RunHook | None = None,
) -> SweepResult:
    """Run every case's runs in one engine call and pair each case's runs into its result.

    Parameters
    ----------
    cases
        The (scenario, normal) cases; ``settings.normal`` is ignored, each case has its own.
    settings
        Strategies, engine, workers and the rest, alike for every case.
    on_progress
        Called after every run with (runs done, runs in the sweep, which run).
    on_run
        Called with every reference and strategy run's ``--jsonl`` line
        (:func:`~clearway.evaluation.evaluate.run_record`) as soon as it can be written.

    Raises
    ------
    ConfigError
        No case; a case without seeds; the same (scenario, normal) twice; two different plans
        with one name; unknown strategy, normal controller or engine; Ray not installed.
    """
    check_settings(settings)
    _check_cases(cases)
    t0 = time.perf_counter()
    plans = {c.plan.name: c.plan for c in cases}
    free_dirs: dict[str, Path] = {}
    for c in cases:
        free_dirs.setdefault(c.plan.name, (c.free_flow_dir or c.out_dir / "free-flow").resolve())
    cross = {name: corridor_cross_streets(p.net, p.routes) for name, p in plans.items()}
    free_jobs = [free_flow_job(p, free_dirs[name]) for name, p in plans.items()]
    case_jobs = [
        plan_jobs(c.plan, replace(settings, normal=c.normal), cross[c.plan.name],
                  c.out_dir.resolve())
        for c in cases
    ]  # fmt: skip
    # Free-flow runs first: they are short, and held-back lines wait for them.
    jobs: list[RunJob | FreeFlowJob] = [*free_jobs, *(j for js in case_jobs for j in js)]
    # Outcomes carry the submitted job object itself (both engines), so identity maps it back.
    owner = {id(j): i for i, js in enumerate(case_jobs) for j in js}
    outcomes: list[dict[tuple[str, int], JobOutcome]] = [{} for _ in cases]
    free_flow: dict[str, FreeFlowOutcome] = {}
    held: dict[str, list[tuple[int, JobOutcome]]] = {name: [] for name in plans}

    def emit(i: int, out: JobOutcome) -> None:
        if on_run is not None:
            c = cases[i]
            on_run(run_record(c.plan, c.normal, out, free_flow[c.plan.name]))

    stream = run_jobs(jobs, engine=settings.engine, workers=settings.workers,
                      address=settings.address, fn=run_sweep_job)  # fmt: skip
    for done, out in enumerate(stream, start=1):
        job = out.job
        if isinstance(job, FreeFlowJob):
            name = job.scenario_name
            free_flow[name] = FreeFlowOutcome(out.measures, out.error)
            for i, run in held.pop(name):
                emit(i, run)
            what = f"{name} · {FREE_FLOW_LABEL}"
        else:
            i = owner[id(job)]
            outcomes[i][(job.label, job.scenario.seed)] = out
            name = cases[i].plan.name
            if name in held:
                held[name].append((i, out))
            else:
                emit(i, out)
            what = f"{name} · {cases[i].normal} · {job.label} · seed {job.scenario.seed}"
        if on_progress is not None:
            on_progress(done, len(jobs), what + ("" if out.ok else " FAILED"))
    wall_s = time.perf_counter() - t0
    results = tuple(
        paired_result(c.plan, replace(settings, normal=c.normal), outcomes[i],
                      free_flow[c.plan.name], cross[c.plan.name], wall_s)
        for i, c in enumerate(cases)
    )  # fmt: skip
    return SweepResult(results, _all_failed(results), wall_s)


def free_flow_job(plan: EvaluationPlan, out_dir: Path) -> FreeFlowJob:
    """The free-flow run of ``plan``'s trips, files in ``out_dir``."""
    net_file = plan.net.source or plan.scenarios[min(plan.scenarios)].net_file
    return FreeFlowJob(plan.name, Path(net_file), plan.trips, out_dir)


def run_sweep_job(job: RunJob | FreeFlowJob) -> RunMeasures | dict[str, FreeFlow]:
    """Run one job of a sweep (in the engine's worker): a measured run or a free-flow run."""
    if isinstance(job, FreeFlowJob):
        try:
            return free_flow_times(job.net_file, job.trips, job.out_dir)
        except Exception as exc:
            # Name the run (as run_job does): the message is all a sweep's report shows.
            raise SimulationError(
                f"free-flow run of scenario {job.scenario_name!r}: {exc}; its rows have no "
                "free-flow time or ratio"
            ) from exc
    return run_job(job)


def _check_cases(cases: Sequence[SweepCase]) -> None:
    if not cases:
        raise ConfigError("nothing to evaluate: give at least one --scenario (or --net)")
    seen: dict[str, EvaluationPlan] = {}
    keys: set[tuple[str, str]] = set()
    for c in cases:
        check_normal(c.normal)
        name = c.plan.name
        if not c.plan.scenarios:
            raise ConfigError(f"scenario {name!r} has no seed: give --seeds N with N >= 1")
        if seen.setdefault(name, c.plan) is not c.plan:
            raise ConfigError(
                f"two different scenarios are both named {name!r}: results are keyed by name, "
                "give each scenario once"
            )
        if (name, c.normal) in keys:
            raise ConfigError(f"scenario {name!r} under --normal {c.normal} is listed twice")
        keys.add((name, c.normal))


def _all_failed(results: Sequence[EvaluationResult]) -> tuple[dict, ...]:
    out: list[dict] = []
    free_flow_seen: set[str] = set()
    for r in results:
        scenario = r.header["scenario"]
        for f in r.failed:
            if f["label"] == FREE_FLOW_LABEL:
                # Every case of the scenario lists its one free-flow run: report it once.
                if scenario in free_flow_seen:
                    continue
                free_flow_seen.add(scenario)
                out.append({"scenario": scenario, "normal": None, **f})
            else:
                out.append({"scenario": scenario, "normal": r.header["normal"], **f})
    return tuple(out)
