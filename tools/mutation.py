"""A small mutation tester for the safety guard (``clearway/signals/safety``).

Each mutant changes one operator or constant of ``guard.py``, ``rules.py`` or ``commands.py``
(``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <->
``not in``, ``and`` <-> ``or``, ``+`` <-> ``-``, a number +-1, ``True`` <-> ``False``, a
``not`` or unary minus removed, an ``if``/``assert`` condition negated, a ``bool`` return
negated, a ``list`` return replaced by ``[]``). The mutated module is compiled from the edited
AST (keeping the real line numbers) and installed by an import hook in a fresh interpreter that
then runs the tests; nothing is written to the source tree.

Two stages, two processes in parallel:

1. the fast limit tests (``tests/safety/test_guard_rules_at_limits.py``, pure, < 1 s), ``-x``;
2. mutants that survive stage 1: the whole ``tests/safety`` suite (SUMO networks, hypothesis
   property tests against the independent oracle; derandomized, no example database), ``-x``.

A mutant is *killed* when a test fails, *timeout* when its run exceeds the limit (counts as
detected), *survived* otherwise. Survivors listed in ``EQUIVALENT`` (with the reason they cannot
change behaviour) are reported as *equivalent*; any other survivor makes the exit status 1.

Writes ``bench/mutation.json`` and ``bench/mutation.md``.

    python tools/mutation.py                 # both stages, 2 processes
    python tools/mutation.py --fast-only     # stage 1 only (about a minute)
    python tools/mutation.py --list          # the mutants, without running anything
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.abc
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "clearway" / "signals" / "safety"
TARGETS = {
    "guard.py": "clearway.signals.safety.guard",
    "rules.py": "clearway.signals.safety.rules",
    "commands.py": "clearway.signals.safety.commands",
}
FAST_TESTS = ["tests/safety/test_guard_rules_at_limits.py"]
FULL_TESTS = ["tests/safety", "--ignore=tests/safety/test_safety_branch_coverage.py"]
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--no-header"]

#: Survivors that cannot change the guard's behaviour: (file, mutation) -> why.
#: ``mutation`` is the ``what`` of the report (source text, not line numbers, so edits elsewhere
#: in the file keep the entry valid).
EQUIVALENT: dict[tuple[str, str], str] = {
    ("rules.py", "flip bool: `strict=True` -> `strict=False`"): "Both zips pair the observed "
    "state with the command's state, whose lengths `malformed()` has already checked equal to "
    "the link count (the guard judges nothing else), so `strict` can never fire.",
    ("guard.py", "flip bool: `slots=True` -> `slots=False`"): "`Verdict` with a `__dict__` "
    "instead of slots: the same fields, still frozen; memory layout only.",
    ("commands.py", "flip bool: `slots=True` -> `slots=False`"): "`SignalCommand` with a "
    "`__dict__` instead of slots: the same fields, still frozen; memory layout only.",
}

COMPARE_SWAP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
OP_TEXT = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    id: int
    file: str
    line: int
    col: int
    kind: str
    what: str  # "kind: `before` -> `after`"
    node: int  # index of the mutated node in ast.walk order
    variant: int  # which of the node's mutations


# -- generating mutants -----------------------------------------------------------------------
def _skipped_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: annotations, docstrings, f-string parts, __slots__."""
    skip: set[int] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            drop(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            drop(node.returns)
        elif isinstance(node, ast.JoinedStr) or isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            drop(node)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                drop(first)
    return skip


def _return_kinds(tree: ast.AST) -> dict[int, str]:
    """id of each ``Return`` -> the annotated return type of its function (``bool``/``list``)."""
    out: dict[int, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.returns is not None:
            ann = ast.unparse(fn.returns)
            kind = "bool" if ann == "bool" else "list" if ann.startswith("list[") else ""
            if kind:
                for n in ast.walk(fn):
                    if isinstance(n, ast.Return):
                        out[id(n)] = kind
    return out


def _variants(node: ast.AST, returns: dict[int, str]) -> Iterator[tuple[str, Callable[[ast.AST], ast.AST]]]:
    """(kind, make) for every mutation of ``node``; ``make(copy)`` returns the replacement."""
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAP:

                def make(n: ast.AST, k: int = k) -> ast.AST:
                    n.ops[k] = COMPARE_SWAP[type(n.ops[k])]()
                    return n

                yield f"{OP_TEXT[type(op)]} -> {OP_TEXT[COMPARE_SWAP[type(op)]]}", make
    elif isinstance(node, ast.BoolOp):

        def swap(n: ast.AST) -> ast.AST:
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            return n

        yield ("and -> or" if isinstance(node.op, ast.And) else "or -> and"), swap
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):

        def arith(n: ast.AST) -> ast.AST:
            n.op = ast.Sub() if isinstance(n.op, ast.Add) else ast.Add()
            return n

        yield ("+ -> -" if isinstance(node.op, ast.Add) else "- -> +"), arith
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "remove not", lambda n: n.operand
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "remove unary minus", lambda n: n.operand
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "flip bool", lambda n: ast.Constant(not n.value)
    elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        yield "constant +1", lambda n: ast.Constant(n.value + 1)
        yield "constant -1", lambda n: ast.Constant(n.value - 1)
    elif isinstance(node, ast.If | ast.Assert) and not (
        isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)
    ):

        def negate(n: ast.AST) -> ast.AST:
            n.test = ast.UnaryOp(ast.Not(), n.test)
            return n

        yield "negate condition", negate
    elif isinstance(node, ast.Return) and node.value is not None and id(node) in returns:
        value = node.value
        if returns[id(node)] == "bool" and not isinstance(value, ast.Constant):

            def flip(n: ast.AST) -> ast.AST:
                n.value = ast.UnaryOp(ast.Not(), n.value)
                return n

            yield "negate return", flip
        elif returns[id(node)] == "list" and not (isinstance(value, ast.List) and not value.elts):

            def empty(n: ast.AST) -> ast.AST:
                n.value = ast.List([], ast.Load())
                return n

            yield "return []", empty


def _short(node: ast.AST) -> str:
    if isinstance(node, ast.If | ast.Assert):
        text = ("if " if isinstance(node, ast.If) else "assert ") + ast.unparse(node.test)
    elif isinstance(node, ast.Return):
        text = ast.unparse(node)
    else:
        text = ast.unparse(node)
    text = " ".join(text.split())
    return text if len(text) <= 110 else text[:107] + "..."


def mutants_of(file: str) -> list[tuple[int, int, int, str, str]]:
    """(node index, variant, line, col/kind, what) for every mutant of ``file``."""
    tree = ast.parse((PACKAGE_DIR / file).read_text(), filename=file)
    skip, returns = _skipped_nodes(tree), _return_kinds(tree)
    keyword_of = {id(kw.value): kw.arg for kw in ast.walk(tree) if isinstance(kw, ast.keyword)}
    out = []
    for idx, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        for v, (kind, make) in enumerate(_variants(node, returns)):
            before, after = _short(node), _short(make(copy.deepcopy(node)))
            if keyword_of.get(id(node)):  # name the argument: `slots=True`, not `True`
                before, after = (f"{keyword_of[id(node)]}={x}" for x in (before, after))
            out.append((idx, v, node.lineno, node.col_offset, kind,
                        f"{kind}: `{before}` -> `{after}`"))  # fmt: skip
    return out


def all_mutants(files: list[str]) -> list[Mutant]:
    out: list[Mutant] = []
    for file in files:
        for idx, v, line, col, kind, what in mutants_of(file):
            out.append(Mutant(len(out), file, line, col, kind, what, idx, v))
    return out


def mutated_code(file: str, node_idx: int, variant: int):  # -> types.CodeType
    path = PACKAGE_DIR / file
    tree = ast.parse(path.read_text(), filename=str(path))
    returns = _return_kinds(tree)
    target = list(ast.walk(tree))[node_idx]
    _, make = list(_variants(target, returns))[variant]

    class Replace(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            if node is target:
                return ast.copy_location(make(node), node)
            return self.generic_visit(node)

    tree = ast.fix_missing_locations(Replace().visit(tree))
    return compile(tree, str(path), "exec")


# -- one mutant's test run (in its own interpreter) ----------------------------------------
def run_worker(file: str, node_idx: int, variant: int, pytest_args: list[str]) -> int:
    module_name = TARGETS[file]
    code = mutated_code(file, node_idx, variant)
    loaded: list[bool] = []

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):  # default module creation
            return None

        def exec_module(self, module) -> None:
            module.__mutant__ = (file, node_idx, variant)
            exec(code, module.__dict__)
            loaded.append(True)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != module_name:
                return None
            return importlib.util.spec_from_file_location(
                name, str(PACKAGE_DIR / file), loader=Loader()
            )

    assert not any(m.startswith("clearway") for m in sys.modules), "clearway imported too early"
    sys.path.insert(0, str(REPO))  # as `python -m pytest` from the repository would
    sys.meta_path.insert(0, Finder())
    from hypothesis import settings  # no example database, the same examples every run

    settings.register_profile("mutation", database=None, derandomize=True)
    settings.load_profile("mutation")
    import pytest

    rc = pytest.main(pytest_args)
    if not loaded:
        print(f"mutation: {module_name} was never imported: the mutant was not tested")
        return 99
    return int(rc)


# -- the driver ---------------------------------------------------------------------------------
def run_one(m: Mutant, tests: list[str], timeout_s: float) -> tuple[str, float, str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", m.file, str(m.node),
           str(m.variant), "--", *tests, *PYTEST_ARGS]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "PYTEST_"))}
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, ""
    dt = time.monotonic() - t0
    if p.returncode == 0:
        return "survived", dt, ""
    if p.returncode == 1:  # tests failed
        failed = [ln for ln in p.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        return "killed", dt, (failed[0] if failed else "").split(" - ")[0]
    return "error", dt, (p.stdout + p.stderr)[-2000:]


def baseline(tests: list[str]) -> None:
    """The suite must pass on the unmutated code, or every mutant would look killed."""
    cmd = [sys.executable, "-m", "pytest", *tests, *PYTEST_ARGS]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"mutation: the tests fail without any mutant:\n{p.stdout[-3000:]}")


def run_stage(mutants: list[Mutant], tests: list[str], timeout_s: float, jobs: int,
              label: str) -> dict[int, tuple[str, float, str]]:  # fmt: skip
    results: dict[int, tuple[str, float, str]] = {}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {m.id: pool.submit(run_one, m, tests, timeout_s) for m in mutants}
        for n, (mid, fut) in enumerate(futures.items(), 1):
            results[mid] = fut.result()
            print(f"[{label} {n}/{len(mutants)}] #{mid} {results[mid][0]}", flush=True)
    return results


def write_reports(rows: list[dict], summary: dict, out_json: Path, out_md: Path) -> None:
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({"summary": summary, "mutants": rows}, indent=1) + "\n")
    lines = [
        "# Mutation testing of the safety guard",
        "",
        "`python tools/mutation.py` (`make mutation`): every mutant of "
        f"`clearway/signals/safety/{{{','.join(summary['files'])}}}` against the fast limit "
        "tests, survivors against all of `tests/safety`.",
        "",
        "| mutants | killed | timeout | survived | equivalent | errors | wall time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['mutants']} | {summary['killed']} | {summary['timeout']} | "
        f"{summary['survived']} | {summary['equivalent']} | {summary['error']} | "
        f"{summary['wall_time_s']:.0f} s |",
        "",
        f"Killed by the fast limit tests: {summary['killed_fast']}; only by the full suite: "
        f"{summary['killed_full']}. Mutation score (killed + timeout) / (mutants - equivalent): "
        f"{summary['score_pct']:.1f} %.",
        "",
    ]
    for status, title in (("survived", "Surviving mutants"), ("equivalent", "Equivalent mutants"),
                          ("error", "Errors")):  # fmt: skip
        chosen = [r for r in rows if r["status"] == status]
        if chosen:
            lines += [f"## {title}", "", "| where | mutation | note |", "|---|---|---|"]
            lines += [f"| {r['file']}:{r['line']} | {r['what'].replace('|', '&#124;')} | "
                      f"{(r.get('reason') or r.get('detail') or '')[:300].replace('|', '&#124;')} |"
                      for r in chosen]  # fmt: skip
            lines.append("")
    by_file: dict[str, list[int]] = {}
    for r in rows:
        k = by_file.setdefault(r["file"], [0, 0])
        k[0] += 1
        k[1] += r["status"] in ("killed", "timeout")
    lines += ["## Per file", "", "| file | mutants | detected |", "|---|---:|---:|"]
    lines += [f"| {f} | {n} | {d} |" for f, (n, d) in by_file.items()]
    out_md.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        file, node_idx, variant = argv[1], int(argv[2]), int(argv[3])
        return run_worker(file, node_idx, variant, argv[argv.index("--") + 1 :])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--fast-only", action="store_true", help="stage 1 only")
    ap.add_argument("--fast-timeout", type=float, default=60.0, help="s per mutant, stage 1")
    ap.add_argument("--full-timeout", type=float, default=900.0, help="s per mutant, stage 2")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "mutation.json")
    args = ap.parse_args(argv)

    mutants = all_mutants(args.files)
    if args.list:
        for m in mutants:
            print(f"#{m.id} {m.file}:{m.line}:{m.col} {m.what}")
        print(f"{len(mutants)} mutants")
        return 0
    t0 = time.monotonic()
    baseline(FAST_TESTS)
    results = run_stage(mutants, FAST_TESTS, args.fast_timeout, args.jobs, "fast")
    stage = dict.fromkeys(results, "fast")
    alive = [m for m in mutants if results[m.id][0] == "survived"]
    if alive and not args.fast_only:
        baseline(FULL_TESTS)
        full = run_stage(alive, FULL_TESTS, args.full_timeout, args.jobs, "full")
        results.update(full)
        stage.update(dict.fromkeys(full, "full"))
    wall = time.monotonic() - t0

    rows = []
    for m in mutants:
        status, dt, detail = results[m.id]
        row = asdict(m) | {"status": status, "stage": stage[m.id], "seconds": round(dt, 2),
                           "detail": detail}  # fmt: skip
        reason = EQUIVALENT.get((m.file, m.what))
        if status == "survived" and reason:
            row["status"], row["reason"] = "equivalent", reason
        rows.append(row)
    count = {s: sum(r["status"] == s for r in rows)
             for s in ("killed", "timeout", "survived", "equivalent", "error")}  # fmt: skip
    detected = count["killed"] + count["timeout"]
    summary = {
        "files": args.files,
        "mutants": len(rows),
        **count,
        "killed_fast": sum(r["status"] == "killed" and r["stage"] == "fast" for r in rows),
        "killed_full": sum(r["status"] == "killed" and r["stage"] == "full" for r in rows),
        "score_pct": 100.0 * detected / max(1, len(rows) - count["equivalent"]),
        "wall_time_s": round(wall, 1),
        "jobs": args.jobs,
        "full_suite": not args.fast_only,
    }
    md = args.out.with_suffix(".md")
    write_reports(rows, summary, args.out, md)
    print(json.dumps(summary, indent=1))
    for r in rows:
        if r["status"] in ("survived", "error"):
            print(f"{r['status'].upper()}: {r['file']}:{r['line']} {r['what']}")
    print(f"wrote {args.out} and {md}")
    return 1 if count["survived"] or count["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
