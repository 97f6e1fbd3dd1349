"""Connection ids (the contract other tools rely on), the base URL of an HTTP connection, and the
check a run starts with (ivr.runtime.plan)."""

from __future__ import annotations

import logging

from callcentre.common.compat import AirflowFailException, AirflowNotFoundException, BaseHook

IVR_MARIADB = "ivr_mariadb"
ANALYTICS_POSTGRES = "analytics_postgres"
SCRAPING_POSTGRES = "scraping_postgres"
SCRAPING_API = "scraping_api"
SLACK_ALERTS = "slack_alerts"

log = logging.getLogger(__name__)


class SourceUnavailable(RuntimeError):
    """A database did not answer: transient, the task is retried with backoff."""


def http_base_url(conn, default_schema: str) -> str | None:
    """The connection's host when that is a full URL, else ``schema://host[:port]``; None without a host."""
    host = (conn.host or "").rstrip("/")
    if not host or "://" in host:
        return host or None
    return f"{conn.schema or default_schema}://{host}" + (f":{conn.port}" if conn.port else "")


def check_databases(conn_ids: list[str]) -> dict[str, str]:
    """Fail fast with a readable message when a connection is missing or a database is down;
    ``{conn_id: server version}`` for the log."""
    versions = {}
    for conn_id in conn_ids:
        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException as err:  # fail at once: retrying never defines a connection
            raise AirflowFailException(
                f"Airflow connection {conn_id!r} is not defined. Create it in the UI (Admin > Connections), "
                f"with `airflow connections add {conn_id} ...`, or export AIRFLOW_CONN_{conn_id.upper()}."
            ) from err
        if conn.conn_type not in ("mysql", "postgres", "postgresql"):
            raise AirflowFailException(f"connection {conn_id!r} has type {conn.conn_type!r}; expected a database")
        try:
            versions[conn_id] = _server_version(conn.conn_type, conn_id)
        except Exception as err:  # the driver's own error types differ; the message is what matters
            raise SourceUnavailable(
                f"database of connection {conn_id!r} ({conn.host}:{conn.port}) is unreachable: {err}"
            ) from err
        log.info("%s answers (%s)", conn_id, versions[conn_id])
    return versions


def _server_version(conn_type: str, conn_id: str) -> str:
    if conn_type == "mysql":
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        hook, sql = MySqlHook(mysql_conn_id=conn_id), "SELECT VERSION()"
    else:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook, sql = PostgresHook(postgres_conn_id=conn_id, options=None), "SHOW server_version"
    conn = hook.get_conn()
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return str(cur.fetchone()[0])
    finally:
        conn.close()
