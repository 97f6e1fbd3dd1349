"""What every task process would otherwise import on its own, imported once by its parent.

Each Airflow task runs in a process forked for it (LocalExecutor worker, Celery pool process).
Before running our code it imports Airflow's DAG parser, the Task SDK runner and, in our tasks,
the database hooks and drivers: about 0.4 CPU-s per task instance, thirty times per
ivr_calls_daily run (measured with `make bench-backfill`, docs/performance.md), and our own
modules the DAG files import (~12 ms more). Imported here by the parent, they come to each task
already loaded (copy-on-write).

Used by ``[scheduler] mp_forkserver_preload`` (with ``[scheduler] mp_start_method = forkserver``,
LocalExecutor) and, as ``CELERY_CONFIG``, by ``[celery] celery_config_options`` (Celery workers
import it before forking their pool). A changed module under include/ is still picked up by the
next task without restarting the scheduler or the workers: each forked task process drops our
preloaded modules when any of their files changed (``fresh_preload``). A change to this file or
to fresh_preload.py itself takes a restart.
"""

from __future__ import annotations

import gc
import importlib
from contextlib import suppress

from callcentre.common.fresh_preload import FreshPreload

PRELOADED = (
    "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.dagbag",
    "airflow.dag_processing.bundles.local",
    # What ``from airflow.sdk import dag, task`` and the DAG file's decorators load on first use.
    "airflow.sdk.definitions.decorators",
    "airflow.sdk.definitions.decorators.condition",
    "airflow.sdk.definitions.decorators.setup_teardown",
    "airflow.sdk.definitions.decorators.task_group",
    "airflow.sdk.definitions.asset.metadata",
    "airflow.sdk.execution_time.cache",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.decorators.sensor",
    "airflow.providers.standard.sensors.python",
    "jinja2.ext",
    "airflow.providers.postgres.hooks.postgres",
    "airflow.providers.mysql.hooks.mysql",
    "MySQLdb.connections",
    "MySQLdb.cursors",
    "pendulum",
)

# Ours: what the DAG files import at their top (each task process parses its DAG file).
OWN_PRELOADED = (
    "callcentre.common.compat",
    "callcentre.ivr.alerts",
    "callcentre.ivr.runtime",
    "callcentre.scraping.operators",
    "callcentre.scraping.pipeline",
    "callcentre.scraping.reconcile",
)

for _name in PRELOADED:
    with suppress(ImportError):  # a module another Airflow version lacks (the 2.11 leg): skipped
        importlib.import_module(_name)

# The plugins (loaded by each task process to find listeners: ~5 % of its CPU). Airflow loads
# plugins once per process and documents that a changed plugin takes a restart: the same here.
with suppress(ImportError):
    from airflow.sdk.listener import get_listener_manager

    get_listener_manager()

OWN = FreshPreload(OWN_PRELOADED)


def __getattr__(name: str):
    # CELERY_CONFIG on first use only: a LocalExecutor setup never imports the Celery provider.
    if name == "CELERY_CONFIG":
        from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

        return DEFAULT_CELERY_CONFIG
    raise AttributeError(name)

# Move everything imported so far out of the garbage collector's reach: a forked task process
# would otherwise, at its first full collection, touch the header of every inherited object and
# copy nearly all of its parent's memory pages (copy-on-write).
gc.freeze()
