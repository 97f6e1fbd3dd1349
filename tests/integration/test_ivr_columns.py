"""The column contract against the real schemas: the migrated analytics tables and the source
table hold exactly the contract's columns (columns.py), with its types."""

from __future__ import annotations

import pytest

from callcentre.common.connections import IVR_MARIADB
from callcentre.ivr import columns, load
from tests.integration.ivr_support import ensure_tables, query

LOAD_BOOKKEEPING = {"loaded_by_run_id", "loaded_at"}


@pytest.fixture(scope="module", autouse=True)
def tables():
    ensure_tables()


def table_columns(table: str) -> dict[str, str]:
    rows = query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (f"analytics.{table}",),
    )
    return {name: type_ for name, type_ in rows if name not in LOAD_BOOKKEEPING}


def pg_type(contract_type: str) -> str:
    return {"timestamp": "timestamp without time zone", "varchar": "character varying"}.get(
        contract_type, contract_type).replace("varchar(", "character varying(")


def test_the_migrated_calls_table_holds_exactly_what_the_load_writes():
    stored = table_columns("calls")
    assert set(stored) == set(load.CALLS_VALUES)
    for c in columns.SOURCE:  # the value as read keeps the type it was read with
        assert stored[c.calls_column] == pg_type(c.pg_type), c.name


def test_the_migrated_rejects_table_keeps_every_raw_value_with_the_stage_type():
    stored = table_columns("call_rejects")
    assert set(stored) == set(load.REJECTS_VALUES)
    for c in (*columns.SOURCE, columns.REASON):
        assert stored[c.name] == pg_type(c.pg_type), c.name


def test_the_source_table_holds_the_contract_columns_in_its_order():
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    rows = MySqlHook(mysql_conn_id=IVR_MARIADB).get_records(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE()"
        " AND table_name = 'calls' ORDER BY ordinal_position")
    assert tuple(name for (name,) in rows) == columns.SOURCE_NAMES
