"""The private Airflow APIs we rely on (callcentre.common.private_airflow): each still where we use
it on the running version, and none used without an entry."""

from __future__ import annotations

import ast
import importlib
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest

from airflow import __version__
from callcentre.common.private_airflow import MARKERS, PRIVATE_APIS, PUBLIC

ROOT = Path(__file__).resolve().parents[2]
MAJOR = int(__version__.split(".")[0])
MISSING = object()  # NEW_SESSION is None, and present
OURS = [api for api in PRIVATE_APIS if api.airflow == MAJOR]


@pytest.mark.parametrize("api", OURS, ids=[api.target for api in OURS])
def test_each_private_api_is_still_there(api):
    module_name, _, path = api.target.partition(":")
    try:
        found = importlib.import_module(module_name)
    except ImportError as err:
        pytest.fail(f"Airflow {__version__} moved {module_name} (used in {api.used_in}: {api.why}): {err}")
    if not path:  # the module itself
        return
    names = path.split(".")
    if api.annotation_only:
        assert names[-1] in getattr(found, "__annotations__", {}) or hasattr(found, names[-1]), \
            f"Airflow {__version__} no longer declares {api.target} (used in {api.used_in}: {api.why})"
        return
    for name in names:
        found = found.get(name, MISSING) if isinstance(found, dict) else getattr(found, name, MISSING)
        assert found is not MISSING, f"Airflow {__version__} has no {api.target} any more (used in {api.used_in}: {api.why})"


def test_every_private_use_in_the_code_is_listed():
    listed = {(marker, api.used_in) for api in PRIVATE_APIS for marker in MARKERS if marker in api.target}
    unlisted = []
    for folder in ("include", "plugins", "dags"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == "include/callcentre/common/private_airflow.py":
                continue
            text = path.read_text()
            unlisted += [f"{relative}: {m}" for m in MARKERS if m in text and (m, relative) not in listed]
    assert not unlisted, "private Airflow APIs used without an entry in private_airflow.py: " + ", ".join(unlisted)


MODULE_NAME = re.compile(r"airflow(\.[A-Za-z_][A-Za-z0-9_]*)+")
TARGET = 3  # code outside any IS_AIRFLOW_2 branch runs on the target version at least


def _switch(test: ast.expr) -> int | None:
    """The version for which an ``if`` on ``IS_AIRFLOW_2`` (or ``not IS_AIRFLOW_2``) is true."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    node = test.operand if negated else test
    if getattr(node, "id", None) == "IS_AIRFLOW_2" or getattr(node, "attr", None) == "IS_AIRFLOW_2":
        return 3 if negated else 2
    return None


def _airflow_uses(tree: ast.Module) -> set[tuple[str, str, int | None]]:
    """(module, name, version) of every airflow import, and (module, "", version) of every airflow
    module named in a string (the task preload imports those by name): version is the one whose
    ``IS_AIRFLOW_2`` branch holds it (an early ``return`` ends a branch's block too), None outside."""
    uses: set[tuple[str, str, int | None]] = set()

    def expressions(node: ast.AST, version: int | None) -> None:
        for child in ast.walk(node):
            if isinstance(child, ast.Constant) and isinstance(child.value, str) and MODULE_NAME.fullmatch(child.value):
                uses.add((child.value, "", version))

    def block(statements: list[ast.stmt], version: int | None) -> None:
        for statement in statements:
            switch = _switch(statement.test) if isinstance(statement, ast.If) else None
            if switch is not None:
                other = 5 - switch  # 2 <-> 3
                block(statement.body, switch)
                block(statement.orelse, other)
                if statement.body and isinstance(statement.body[-1], (ast.Return, ast.Raise)):
                    version = other  # the rest of this block runs on the other version only
                continue
            if isinstance(statement, ast.ImportFrom) and statement.module and statement.module.split(".")[0] == "airflow":
                uses.update((statement.module, alias.name, version) for alias in statement.names)
            elif isinstance(statement, ast.Import):
                uses.update((alias.name, "", version) for alias in statement.names if alias.name.split(".")[0] == "airflow")
            for field, value in ast.iter_fields(statement):
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    block(value, version)
                elif isinstance(value, list):
                    for item in value:
                        if isinstance(item, ast.excepthandler):
                            block(item.body, version)
                        elif isinstance(item, ast.AST):
                            expressions(item, version)
                elif isinstance(value, ast.AST):
                    expressions(value, version)

    block(tree.body, None)
    return uses


def _is_public(module: str, name: str, version: int) -> bool:
    return any(fnmatch(f"{module}:{name}", p) if ":" in p else fnmatch(module, p) for p in PUBLIC[version])


def _dotted(target: str) -> str:
    return target.replace(":", ".").rstrip(".")


def test_every_airflow_import_is_public_or_listed():
    """Inside an IS_AIRFLOW_2 branch: public on that version or listed for it. Outside: public on the
    target version (what is public only on 2.11, as airflow.models.Variable, is private on 3.x) or
    listed for the file."""
    listed = {(_dotted(api.target), api.used_in, api.airflow) for api in PRIVATE_APIS}
    unlisted = []
    for folder in ("include", "plugins", "dags"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == "include/callcentre/common/private_airflow.py":  # the list itself
                continue
            for module, name, version in sorted(_airflow_uses(ast.parse(path.read_text()))):
                used = f"{module}.{name}" if name else module
                if _is_public(module, name, version or TARGET) or any(
                        (entry == used or entry.startswith(used + ".")) and where == relative and version in (None, v)
                        for entry, where, v in listed):
                    continue
                unlisted.append(f"{relative}: {module}:{name} (Airflow {version or 'any'})")
    assert not unlisted, ("Airflow imports neither public for their version (private_airflow.PUBLIC) nor listed "
                          "in private_airflow.PRIVATE_APIS: " + ", ".join(unlisted))
