"""Airflow's task-side modules, imported once by the forkserver the LocalExecutor forks tasks from.

``[scheduler] mp_start_method = forkserver`` with ``[scheduler] mp_forkserver_preload`` naming this
module (scripts/services.sh): each task process starts with Airflow's task runner, DAG parser and
the database hooks already loaded (copy-on-write) instead of importing them itself, ≈ 0.3 CPU-s
less per task instance (`make bench-backfill`, docs/performance.md). Only Airflow and libraries:
our own modules are imported by each task, so a changed file under include/ reaches the next task.
"""

from __future__ import annotations

import gc
import importlib
from contextlib import suppress

PRELOADED = (
    "airflow.sdk.execution_time.task_runner", "airflow.dag_processing.dagbag", "airflow.dag_processing.bundles.local",
    # What ``from airflow.sdk import dag, task`` and the DAG files' decorators load on first use.
    "airflow.sdk.definitions.decorators", "airflow.sdk.definitions.decorators.condition",
    "airflow.sdk.definitions.decorators.setup_teardown", "airflow.sdk.definitions.decorators.task_group",
    "airflow.sdk.definitions.asset.metadata", "airflow.sdk.execution_time.cache",
    "airflow.providers.standard.decorators.python", "airflow.providers.standard.decorators.sensor",
    "airflow.providers.standard.sensors.python", "jinja2.ext",
    "airflow.providers.postgres.hooks.postgres", "airflow.providers.mysql.hooks.mysql",
    "MySQLdb.connections", "MySQLdb.cursors", "pendulum",
)

for _name in PRELOADED:
    with suppress(ImportError):  # a module another Airflow version lacks: skipped
        importlib.import_module(_name)

# The plugins, which each task process loads to find listeners. Airflow documents that a changed
# plugin takes a restart of its components: the same here.
with suppress(ImportError):
    from airflow.sdk.listener import get_listener_manager

    get_listener_manager()

# The providers' asset URI handlers, which Airflow discovers when a DAG file first defines an Asset
# (each task process parses its DAG file): Airflow CPU per run 7.29 -> 6.60 s (-9 %, the tasks' own
# work included) and the backfill's wall -7 %, A/B of warm backfills 2026-12-05 (docs/performance.md).
with suppress(ImportError, AttributeError):  # moved: skipped here (the forkserver would die), failed by the test
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    ProvidersManagerTaskRuntime().initialize_providers_asset_uri_resources()

# Out of the garbage collector's reach: a forked task's first full collection would otherwise
# touch every inherited object and copy nearly all of its parent's memory pages.
gc.freeze()
