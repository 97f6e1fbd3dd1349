"""What only the tests need to differ by Airflow version: ``dag.test``, a DagBag, the CLI's date parser."""

from __future__ import annotations

from callcentre.common.compat import IS_AIRFLOW_2


def parse_typed_date(text: str, zone: str):
    """A date typed on the CLI (``dags test``, backfill bounds), read by the CLI's own parser in ``zone``."""
    import pendulum

    if IS_AIRFLOW_2:
        from airflow.utils.timezone import parse
    else:
        from airflow._shared.timezones.timezone import parse
    return parse(text, timezone=pendulum.timezone(zone))


def dag_test(dag, logical_date=None, conf: dict | None = None):
    """``dag.test`` of one logical date (2.x names it ``execution_date``)."""
    if not IS_AIRFLOW_2:
        return dag.test(logical_date=logical_date, run_conf=conf or {})
    # The run's ORM models refer to the FAB user table, which nothing else imports outside the
    # CLI: the first flush would fail with NoReferencedTableError.
    import airflow.providers.fab.auth_manager.models  # noqa: F401

    return dag.test(execution_date=logical_date, run_conf=conf or {})


def dag_bag(dag_folder):
    """Parse a folder of DAG files the way the DAG processor does (examples never included)."""
    if IS_AIRFLOW_2:
        from airflow.models.dagbag import DagBag

        return DagBag(dag_folder=str(dag_folder), include_examples=False)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dag_folder))
