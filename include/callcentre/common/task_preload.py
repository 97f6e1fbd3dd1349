"""What every task process would otherwise import on its own, imported once by its parent.

Each Airflow task runs in a process forked for it (LocalExecutor worker, Celery pool process).
Before running our code it imports Airflow's DAG parser, the Task SDK runner and, in our tasks,
the database hooks and drivers: about 0.4 CPU-s per task instance, thirty times per
ivr_calls_daily run (measured with `make bench-backfill`, README "Performance"). Imported here by
the parent, they come to each task already loaded (copy-on-write).

Used by ``[scheduler] mp_forkserver_preload`` (with ``[scheduler] mp_start_method = forkserver``,
LocalExecutor) and, as ``CELERY_CONFIG``, by ``[celery] celery_config_options`` (Celery workers
import it before forking their pool). Airflow's and the drivers' modules only: our own code is
still imported by each task, so a changed module under include/ is picked up by the next task
without restarting the scheduler or the workers.
"""

from __future__ import annotations

import gc
import importlib
from contextlib import suppress

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

for _name in PRELOADED:
    with suppress(ImportError):  # a module another Airflow version lacks (the 2.11 leg): skipped
        importlib.import_module(_name)


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
