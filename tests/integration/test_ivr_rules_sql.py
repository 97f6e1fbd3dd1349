"""The SQL form of the validation rules (evaluated by MariaDB in the load's fast path) agrees with
the Python reference on every case the unit tests pin down, and on synthetic data."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from callcentre.ivr import synthetic
from callcentre.ivr.rules import reject_reason_sql
from tests.integration.ivr_support import ensure_tables, reset_day
from tests.unit.test_ivr_rules import CASES, call, reject_reason

DAY = date(2026, 7, 7)


def _sql_reasons(call_ids: list[int]) -> dict[int, str | None]:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    conn = MySqlHook(mysql_conn_id="ivr_mariadb").get_conn()
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT call_id, {reject_reason_sql()} FROM calls WHERE call_id IN ({','.join(map(str, call_ids))})")
        return dict(cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def day():
    ensure_tables()
    reset_day(DAY)
    yield DAY
    reset_day(DAY)


def _as_source_row(call_id: int, overrides: dict) -> tuple:
    row = list(call(call_id=call_id, **overrides))
    for i in (1, 2, 11):  # the source stores DATETIMEs
        if isinstance(row[i], str):
            row[i] = datetime.fromisoformat(row[i]).replace(year=DAY.year, month=DAY.month, day=DAY.day)
    return tuple(row)


def test_sql_rules_match_the_python_reference(day):
    rows = [_as_source_row(700_000 + i, overrides) for i, (overrides, _) in enumerate(CASES)]
    rows.append(_as_source_row(700_999, {}))
    synthetic.write_calls(rows)
    sql = _sql_reasons([r[0] for r in rows])
    assert {r[0]: reject_reason(r) for r in rows} == sql
    assert sql[700_999] is None


def test_sql_rules_match_on_a_synthetic_day(day):
    rows = synthetic.day_calls(day, 3000, seed=11, invalid_share=0.2)
    synthetic.write_calls(rows)
    sql = _sql_reasons([r[0] for r in rows])
    assert {r[0]: reject_reason(r) for r in rows} == sql
