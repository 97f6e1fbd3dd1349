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


def _airflow_uses(tree: ast.AST) -> set[tuple[str, str]]:
    """(module, name) of every airflow import, and (module, "") of every airflow module named in a
    string (the task preload imports those by name)."""
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "airflow":
            uses |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            uses |= {(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "airflow"}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            uses.add((node.value, ""))
    return uses


def _is_public(module: str, name: str) -> bool:
    return any(fnmatch(f"{module}:{name}", p) if ":" in p else fnmatch(module, p) for p in PUBLIC)


def _dotted(target: str) -> str:
    return target.replace(":", ".").rstrip(".")


def test_every_airflow_import_is_public_or_listed():
    listed = {(_dotted(api.target), api.used_in) for api in PRIVATE_APIS}
    unlisted = []
    for folder in ("include", "plugins", "dags"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == "include/callcentre/common/private_airflow.py":  # the list itself
                continue
            for module, name in sorted(_airflow_uses(ast.parse(path.read_text()))):
                used = f"{module}.{name}" if name else module
                if _is_public(module, name) or any(
                        (entry == used or entry.startswith(used + ".")) and where == relative for entry, where in listed):
                    continue
                unlisted.append(f"{relative}: {module}:{name}")
    assert not unlisted, ("Airflow imports neither public (private_airflow.PUBLIC) nor listed in "
                          "private_airflow.PRIVATE_APIS: " + ", ".join(unlisted))
