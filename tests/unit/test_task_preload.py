"""The forkserver's preload skips a module that does not import (another Airflow version may lack
it), so a module Airflow moves would silently undo the preload's saving: on the Airflow version
the preload is tuned for, every name it lists must import."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from callcentre.common.compat import IS_AIRFLOW_2

PRELOAD = Path(__file__).resolve().parents[2] / "include" / "callcentre" / "common" / "task_preload.py"


def preloaded_names() -> tuple[str, ...]:
    """PRELOADED read from the file, not imported (importing it freezes this process's objects)."""
    for node in ast.parse(PRELOAD.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PRELOADED" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{PRELOAD} defines no PRELOADED")


@pytest.mark.skipif(IS_AIRFLOW_2, reason="the preload is tuned for Airflow 3's task runner")
@pytest.mark.parametrize("name", preloaded_names())
def test_every_preloaded_module_imports(name):
    importlib.import_module(name)
