"""Dependencies point one way: the core never imports adapters, the service, the CLI, the
database or the simulator; the guard imports only signals/ and the standard library; the
monitor is independent of the guard. The contracts live in pyproject.toml (import-linter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "clearway"


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


CORE = ("network", "signals", "state", "control", "monitor")
FORBIDDEN_IN_CORE = (
    "clearway.sim", "clearway.service", "clearway.cli", "clearway.storage", "clearway.evaluation",
    "clearway.bootstrap", "libsumo", "traci", "fastapi", "sqlalchemy", "uvicorn",
)


def test_core_never_imports_outer_layers_by_name():
    offenders = []
    for part in CORE:
        for path in (PKG / part).rglob("*.py"):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_only_sim_imports_libsumo_or_traci():
    offenders = []
    for path in PKG.rglob("*.py"):
        if path.parent.name == "sim" or "sim" in path.relative_to(PKG).parts[:1]:
            continue
        bad = {n for n in _imports(path) if n.split(".")[0] in ("libsumo", "traci")}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert not offenders, offenders


def test_safety_package_imports_only_stdlib_and_signals():
    allowed_prefixes = ("clearway.signals",)
    for path in (PKG / "signals" / "safety").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "clearway":
                assert name.startswith(allowed_prefixes), f"{path.name} imports {name}"
            else:
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"


def test_the_checker_would_catch_a_violation(tmp_path):
    # The contract must be able to fail: a core module importing the simulator is reported.
    src = tmp_path / "clearway"
    (src / "signals").mkdir(parents=True)
    (src / "sim").mkdir()
    (src / "__init__.py").write_text("")
    (src / "sim" / "__init__.py").write_text("")
    (src / "signals" / "__init__.py").write_text("import clearway.sim\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = clearway\n\n[importlinter:contract:core]\nname = core\n"
        "type = forbidden\nsource_modules = clearway.signals\nforbidden_modules = clearway.sim\n"
    )
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint)], cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)}
    )
    assert proc.returncode != 0 and "BROKEN" in proc.stdout.upper()
