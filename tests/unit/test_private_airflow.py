"""The private Airflow APIs we rely on (callcentre.common.private_airflow): each still where we use
it on the running version, and none used without an entry."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from airflow import __version__
from callcentre.common.private_airflow import MARKERS, PRIVATE_APIS

ROOT = Path(__file__).resolve().parents[2]
MAJOR = int(__version__.split(".")[0])
OURS = [api for api in PRIVATE_APIS if api.airflow == MAJOR]


@pytest.mark.parametrize("api", OURS, ids=[api.target for api in OURS])
def test_each_private_api_is_still_there(api):
    module_name, _, path = api.target.partition(":")
    try:
        found = importlib.import_module(module_name)
    except ImportError as err:
        pytest.fail(f"Airflow {__version__} moved {module_name} (used in {api.used_in}: {api.why}): {err}")
    names = path.split(".")
    if api.annotation_only:
        assert names[-1] in getattr(found, "__annotations__", {}) or hasattr(found, names[-1]), \
            f"Airflow {__version__} no longer declares {api.target} (used in {api.used_in}: {api.why})"
        return
    for name in names:
        found = found.get(name) if isinstance(found, dict) else getattr(found, name, None)
        assert found is not None, f"Airflow {__version__} has no {api.target} any more (used in {api.used_in}: {api.why})"


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
