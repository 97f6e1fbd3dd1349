"""Realistic synthetic IVR calls for the demo, the tests and the benchmark.

Deterministic for a given seed. About ``invalid_share`` of the rows break one validation rule
each (a negative duration, a missing caller, an unknown disposition, ...), so quarantine has
something to do.
"""

from __future__ import annotations

import os
import random
import tempfile
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path

from callcentre.common.connections import IVR_MARIADB
from callcentre.ivr.business_day import day_window
from callcentre.ivr.columns import SOURCE_NAMES

SOURCE_DDL = (Path(__file__).with_name("sql") / "source_calls.sql").read_text()

# Relative call volume per local hour: quiet nights, a morning and an afternoon peak.
HOURLY_PROFILE = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 19, 15, 14, 17, 19, 18, 14, 10, 7, 5, 4, 2, 1]
DISPOSITION_WEIGHTS = {"ANSWERED": 70, "ABANDONED": 12, "TRANSFERRED": 9, "FAILED": 3, "BUSY": 3, "NO ANSWER": 3}
QUEUES = ["ventas", "soporte", "cobranzas", "retencion", None]
MENU = ["1", "2", "3", "4", "9"]
# How a row is made to break each rule of callcentre.ivr.rules: the values it gets.
CORRUPTIONS = {
    "duration_negative": lambda row: {"duration": -abs(row["duration"] or 1)},
    "duration_missing": lambda row: {"duration": None},
    "end_before_start": lambda row: {"end_time": row["start_time"] - timedelta(seconds=30)},
    "wait_negative": lambda row: {"wait_seconds": -5},
    "caller_missing": lambda row: {"caller_number": "  "},
    "disposition_unknown": lambda row: {"disposition": "VOICEMAIL"},
}


def day_calls(business_date: date, count: int, *, seed: int = 7, invalid_share: float = 0.015) -> list[tuple]:
    """``count`` calls starting on ``business_date`` (naive local times), as source-ordered tuples."""
    rng = random.Random(f"{business_date}-{seed}")
    call_id = int(business_date.strftime("%Y%m%d")) * 10_000_000
    midnight = datetime.combine(business_date, datetime.min.time())
    hours = rng.choices(range(24), weights=HOURLY_PROFILE, k=count)
    dispositions = list(DISPOSITION_WEIGHTS)
    weights = list(DISPOSITION_WEIGHTS.values())
    rows = []
    for i, hour in enumerate(sorted(hours)):
        start = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
        disposition = rng.choices(dispositions, weights=weights)[0]
        wait = rng.randrange(0, 90) if disposition != "FAILED" else None
        duration = rng.randrange(20, 900) if disposition in ("ANSWERED", "TRANSFERRED") else rng.randrange(0, 60)
        end = start + timedelta(seconds=(wait or 0) + duration)
        agent = rng.randrange(100, 180) if disposition == "ANSWERED" else None
        row = {
            "call_id": call_id + i, "start_time": start, "end_time": end, "duration": duration,
            "caller_number": f"3{rng.randrange(10**9):09d}", "dialed_number": "6015550100",
            "ivr_path": ">".join(rng.choices(MENU, k=rng.randrange(1, 4))), "disposition": disposition,
            "queue_name": rng.choice(QUEUES), "agent_id": agent, "wait_seconds": wait,
            "updated_at": end + timedelta(seconds=rng.randrange(5)),
        }
        if rng.random() < invalid_share:
            row.update(rng.choice(list(CORRUPTIONS.values()))(row))
        rows.append(tuple(row[name] for name in SOURCE_NAMES))
    return rows


def _tsv(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _execute(sql: str, params=None) -> None:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    with closing(MySqlHook(mysql_conn_id=IVR_MARIADB).get_conn()) as conn:
        conn.cursor().execute(sql, params)
        conn.commit()


def create_source_table() -> None:
    _execute(SOURCE_DDL)


def write_calls(rows: list[tuple]) -> int:
    """Insert or replace ``rows`` (tuples in columns.SOURCE order) with LOAD DATA LOCAL INFILE."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as fh:
        for row in rows:
            fh.write("\t".join(_tsv(v) for v in row) + "\n")
        path = fh.name
    try:
        with closing(MySqlHook(mysql_conn_id=IVR_MARIADB, local_infile=True).get_conn()) as conn:
            cur = conn.cursor()
            cur.execute(
                "LOAD DATA LOCAL INFILE %s REPLACE INTO TABLE calls "
                "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
                f" ({', '.join(SOURCE_NAMES)})",
                (path,),
            )
            conn.commit()
            return cur.rowcount
    finally:
        os.unlink(path)


def delete_day(business_date: date) -> None:
    _execute("DELETE FROM calls WHERE start_time >= %s AND start_time < %s", day_window(business_date))
