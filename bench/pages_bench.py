#!/usr/bin/env python
"""`make bench-pages`: the IVR days page over five years of days and the scraping dashboard over
100,000 jobs, each against :data:`GOAL_MS` of server time.

Everything runs in Airflow's real api-server app (``create_app("core")``: plugins, auth manager,
JWT and permission checks) served by uvicorn on loopback in this process, because the IVR page
reads the DAG's runs through Airflow's REST API with the caller's token. Each case is timed two
ways, median and p95 of ``--repeat``:

* ``query``: the page's own read functions (``ivr_page.queries.calendar`` / ``day_detail``,
  ``scraping_page.dashboard.figures``) against PostgreSQL;
* ``http``: the page's API request (``GET /ivr-days/api/...``, ``GET /scraping-jobs/api/dashboard``)
  answered by the app, measured at the client on loopback (server time plus one local round trip).

Seeds, reused when already there (sizes are knobs: ``--days``, ``--jobs``):

* database ``ivr_pages_bench`` (``scripts/services.sh createdb``): ``--days`` days up to yesterday
  of ``daily_metrics``, 24 ledger rows a day in ``etl_batches`` (a second attempt every 7th day),
  ``--rejects`` quarantined calls a day over the last 30 days, a deadline alert every 50 days;
* Airflow metadata in schema ``bench_pages`` of the metadata database (migrated here; no
  scheduler uses it): one ``ivr_calls_daily`` run per seeded day, succeeded (one created through
  the REST API, the others copied from it in SQL);
* database ``scraping_bench``: ``--jobs`` jobs, as ``make bench-jobs-page`` seeds them.

Results: bench/pages_results.json (bench/pages_results-quick.json with ``--quick``: 90 days, 5,000
jobs) and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs_page_bench import bench_connection, bench_dashboard, populate, timed  # noqa: E402
from run_bench import ROOT, database_settings, log, machine  # noqa: E402

from callcentre.devtools.airflow_processes import AIRFLOW, free_port  # noqa: E402

GOAL_MS = 200
PAGES_DB = "ivr_pages_bench"
METADATA_SCHEMA = "bench_pages"
DAG_ID = "ivr_calls_daily"
REJECT_REASONS = ("duration_negative", "duration_missing", "end_before_start", "wait_negative", "caller_missing",
                  "disposition_unknown")


# --- where this process's Airflow and pages read ---------------------------------------------------

def point_connections() -> None:
    """Before Airflow is imported: metadata in its own schema, the API's base URL on a free port,
    connection analytics_postgres at the pages' database."""
    import psycopg

    pg = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["login"], password=pg["password"],
                         dbname="airflow", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {METADATA_SCHEMA}")
    port = free_port()
    os.environ.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("?")[0] + f"?options=-csearch_path%3D{METADATA_SCHEMA}",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
        "AIRFLOW_CONN_ANALYTICS_POSTGRES": json.dumps({**pg, "schema": PAGES_DB}),
    })
    subprocess.run([str(ROOT / "scripts" / "services.sh"), "createdb", PAGES_DB], check=True, stdout=subprocess.DEVNULL)


def airflow_cli(*args: str) -> None:
    subprocess.run([AIRFLOW, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)


def serve() -> str:
    """Airflow's api-server app under uvicorn in a thread; its base URL."""
    import uvicorn

    from airflow.api_fastapi.app import create_app

    base = os.environ["AIRFLOW__API__BASE_URL"]
    server = uvicorn.Server(uvicorn.Config(create_app("core"), host="127.0.0.1", port=int(os.environ["AIRFLOW__API__PORT"]),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("uvicorn did not start")
        time.sleep(0.1)
    return base


class Client:
    """``get(path, params=, headers=)`` against the served app (what bench_dashboard calls)."""

    def __init__(self, base: str):
        import requests

        self.base, self.session = base, requests.Session()

    def get(self, path: str, **kwargs):
        return self.session.get(self.base + path, timeout=60, **kwargs)

    def post(self, path: str, **kwargs):
        return self.session.post(self.base + path, timeout=60, **kwargs)


def bearer(role: str) -> dict:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return {"Authorization": "Bearer " + get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role=role))}


# --- seeds ----------------------------------------------------------------------------------------

def pg(sql: str, params=None, fetch: bool = False):
    from callcentre.common.pg import transaction

    with transaction("analytics_postgres") as cur:
        cur.execute(sql, params)
        return cur.fetchall() if fetch else None


SEED_METRICS = """
INSERT INTO analytics.daily_metrics (metric_date, source_calls, total_calls, rejected_calls, answered_calls,
    abandoned_calls, transferred_calls, failed_calls, avg_duration_s, avg_wait_s, abandonment_rate,
    service_level_20s, peak_hour, computed_by_run_id)
SELECT d, n, n - r, r, (n - r) * 7 / 10, (n - r) / 8, (n - r) / 12, (n - r) / 40, 182.4, 11.2, 0.125, 0.87, 10,
       'scheduled__' || d
FROM (SELECT d::date, 1000000 + (extract(doy FROM d)::int * 997) %% 50000 AS n, 2000 + (extract(doy FROM d)::int * 31) %% 14000 AS r
      FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d) s
"""
SEED_LEDGER = """
INSERT INTO analytics.etl_batches (dag_id, run_id, try_number, business_date, local_hour, invalid_rows, rows_read,
    rows_loaded, rows_rejected, started_at, finished_at, duration_s, outcome, error)
SELECT %(dag)s, 'scheduled__' || d, t, d, h, 'quarantine', 42000, CASE WHEN t = 1 AND a = 2 THEN NULL ELSE 41400 END,
       CASE WHEN t = 1 AND a = 2 THEN NULL ELSE 600 END,
       d + interval '1 day 1 hour' + h * interval '20 seconds' + t * interval '5 minutes',
       d + interval '1 day 1 hour' + h * interval '20 seconds' + t * interval '5 minutes' + interval '9 seconds', 9.0,
       CASE WHEN t = 1 AND a = 2 THEN 'failed' ELSE 'success' END,
       CASE WHEN t = 1 AND a = 2 THEN 'source unavailable: (2013, ''Lost connection to server during query'')' END
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d,
     generate_series(0, 23) AS h,
     LATERAL (SELECT CASE WHEN extract(doy FROM d)::int %% 7 = 0 AND h = 9 THEN 2 ELSE 1 END AS a) att,
     LATERAL generate_series(1, att.a) AS t
"""
SEED_REJECTS = """
INSERT INTO analytics.call_rejects (call_id, business_date, local_hour, reject_reason, start_time, duration,
    caller_number, disposition, loaded_by_run_id)
SELECT to_char(%(day)s::date, 'YYYYMMDD')::bigint * 10000000 + 9000000 + n, %(day)s, n %% 24,
       (%(reasons)s::text[])[1 + n %% 6], %(day)s::date + (n %% 24) * interval '1 hour', -5, '3001234567', 'ANSWERED',
       'scheduled__' || %(day)s
FROM generate_series(1, %(n)s) AS n
"""
SEED_ALERTS = """
INSERT INTO analytics.alert_log (dag_id, kind, alert_key, business_date, run_id, message)
SELECT %(dag)s, 'deadline_missed', 'bench-' || d::date, d, NULL, 'ivr_calls_daily: ' || d::date || ' not loaded by its deadline'
FROM generate_series(%(first)s::date, %(last)s::date, interval '50 days') AS d
ON CONFLICT DO NOTHING
"""


def seed_analytics(first: date, last: date, rejects: int) -> float:
    from callcentre.ivr import schema

    schema.migrate()
    have = pg("SELECT min(metric_date), max(metric_date), count(*) FROM analytics.daily_metrics", fetch=True)[0]
    if have == (first, last, (last - first).days + 1):
        return 0.0
    started = time.monotonic()
    for table in ("daily_metrics", "etl_batches", "call_rejects", "alert_log"):
        pg(f"TRUNCATE analytics.{table}")
    span = {"first": first, "last": last, "dag": DAG_ID}
    pg(SEED_METRICS, span)
    pg(SEED_LEDGER, span)
    pg(SEED_ALERTS, span)
    for k in range(30):
        day = last - timedelta(days=k)
        pg("SELECT analytics.ensure_month_partitions(%s)", (day,))
        pg(SEED_REJECTS, {"day": day, "n": rejects, "reasons": list(REJECT_REASONS)})
    from callcentre.common.pg import postgres_conn

    conn = postgres_conn("analytics_postgres")
    try:
        conn.autocommit = True
        for table in ("daily_metrics", "etl_batches", "call_rejects", "alert_log"):
            conn.cursor().execute(f"VACUUM ANALYZE analytics.{table}")
    finally:
        conn.close()
    return time.monotonic() - started


def local_midnight_utc(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    from callcentre.ivr.business_day import ivr_timezone_name

    return datetime.combine(day, datetime.min.time(), ZoneInfo(ivr_timezone_name())).astimezone(timezone.utc)


def seed_runs(client: Client, first: date, last: date) -> float:
    """One succeeded run of the DAG per day: the first through the REST API, the rest copied in SQL."""
    from sqlalchemy import text

    from airflow.utils.session import create_session
    from callcentre.ivr.business_day import ivr_timezone_name

    with create_session() as session:
        have = session.execute(text("SELECT count(*) FROM dag_run WHERE dag_id = :d"), {"d": DAG_ID}).scalar()
    if have == (last - first).days + 1:
        return 0.0
    started = time.monotonic()
    with create_session() as session:
        session.execute(text("DELETE FROM dag_run WHERE dag_id = :d"), {"d": DAG_ID})
    resp = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", headers=bearer("admin"),
                       json={"dag_run_id": "bench_template", "logical_date": local_midnight_utc(first).isoformat()})
    if resp.status_code != 200:
        raise SystemExit(f"creating the template run: {resp.status_code} {resp.text}")
    with create_session() as session:
        columns = [r[0] for r in session.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'dag_run' AND column_name <> 'id' ORDER BY ordinal_position"))]
        moved = {"run_id": "'scheduled__' || d::date", "state": "'success'", "run_type": "'scheduled'",
                 "logical_date": "(d::date::timestamp AT TIME ZONE :tz)",
                 "run_after": "(d::date::timestamp AT TIME ZONE :tz) + interval '1 day'",
                 "data_interval_start": "(d::date::timestamp AT TIME ZONE :tz)",
                 "data_interval_end": "(d::date::timestamp AT TIME ZONE :tz) + interval '1 day'",
                 "start_date": "(d::date::timestamp AT TIME ZONE :tz) + interval '1 day 1 hour'",
                 "end_date": "(d::date::timestamp AT TIME ZONE :tz) + interval '1 day 1 hour 4 minutes'",
                 "queued_at": "(d::date::timestamp AT TIME ZONE :tz) + interval '1 day'"}
        exprs = [moved.get(c, c) for c in columns]
        session.execute(text(
            f"INSERT INTO dag_run ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM dag_run, "
            "generate_series(CAST(:first AS date) + 1, CAST(:last AS date), interval '1 day') AS d "
            "WHERE dag_id = :dag AND run_id = :template"),
            {"tz": ivr_timezone_name(), "first": first, "last": last, "dag": DAG_ID, "template": "bench_template"})
        session.execute(text("UPDATE dag_run SET state = 'success', run_type = 'scheduled' WHERE dag_id = :d"),
                        {"d": DAG_ID})
    return time.monotonic() - started


# --- the measurements -----------------------------------------------------------------------------

def ivr_cases(last: date, days: int) -> dict[str, tuple[str, dict]]:
    five_years = last - timedelta(days=days - 1)
    detail_day = last - timedelta(days=3)
    return {
        "calendar, 90 days (default)": ("/ivr-days/api/days", {}),
        f"calendar, {days} days": ("/ivr-days/api/days", {"from_day": str(five_years), "to_day": str(last)}),
        "one day's detail": (f"/ivr-days/api/days/{detail_day}", {}),
        "rejects chart (SVG)": (f"/ivr-days/api/days/{detail_day}/rejects.svg", {}),
        "hours strip (SVG)": (f"/ivr-days/api/days/{detail_day}/hours.svg", {}),
    }


def bench_ivr(client: Client, headers: dict, last: date, days: int, repeat: int) -> dict:
    from callcentre.ivr_page import queries

    first = last - timedelta(days=days - 1)
    detail_day = last - timedelta(days=3)
    query_fns = {
        "calendar, 90 days (default)": lambda: queries.calendar(last - timedelta(days=89), last),
        f"calendar, {days} days": lambda: queries.calendar(first, last),
        "one day's detail": lambda: queries.day_detail(detail_day),
    }
    report = {"goal_ms": GOAL_MS, "days_seeded": days, "cases": {}}
    for name, (path, params) in ivr_cases(last, days).items():
        query_t = timed(query_fns[name], repeat)[0] if name in query_fns else None
        http_t, resp = timed(lambda p=path, q=params: client.get(p, params=q, headers=headers), repeat)
        if resp.status_code != 200:
            raise SystemExit(f"{path}: {resp.status_code} {resp.text[:500]}")
        body = resp.json() if path.endswith(("days",)) else None
        shown = len(body["days"]) if body else None
        states = dict(Counter(d["state"] for d in body["days"])) if body else None  # the seeds were read
        report["cases"][name] = {"path": path, "params": params, "days_shown": shown, "states": states,
                                 "runs_seen": sum(d.get("runs", 0) for d in body["days"]) if body else None,
                                 "query": query_t, "http": http_t,
                                 "within_goal": http_t["p95_ms"] <= GOAL_MS}
        q = f"{query_t['median_ms']:>6} / {query_t['p95_ms']:<6}" if query_t else f"{'-':>15}"
        print(f"{name:30} {shown if shown is not None else '':>8} {q}{http_t['median_ms']:>6} / {http_t['p95_ms']:<6}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="90 days and 5,000 jobs, into pages_results-quick.json")
    parser.add_argument("--days", type=int, help="days of IVR history (default 1,826: five years; quick 90)")
    parser.add_argument("--jobs", type=int, help="scraping jobs (default 100,000; quick 5,000)")
    parser.add_argument("--rejects", type=int, default=15_000, help="quarantined calls a day over the last 30 days")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    days = args.days or (90 if args.quick else 5 * 365 + 1)
    jobs = args.jobs or (5_000 if args.quick else 100_000)
    point_connections()
    from callcentre.ivr.business_day import ivr_timezone_name
    from zoneinfo import ZoneInfo

    last = datetime.now(ZoneInfo(ivr_timezone_name())).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    results: dict = {"date": datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "repeat": args.repeat,
                     "machine": machine(), "database_settings": database_settings()}

    log(f"Airflow metadata in schema {METADATA_SCHEMA}: migrate, serialize the DAGs")
    airflow_cli("db", "migrate")
    airflow_cli("dags", "reserialize")
    base = serve()
    client = Client(base)
    seeded = {"analytics_s": round(seed_analytics(first, last, args.rejects), 1),
              "runs_s": round(seed_runs(client, first, last), 1)}
    bench_connection()
    seeded["jobs_s"] = round(populate(jobs), 1)
    os.environ["AIRFLOW_CONN_SCRAPING_POSTGRES"] = os.environ["AIRFLOW_CONN_SCRAPING_BENCH"]
    results["seeded"] = {"days": days, "first_day": first.isoformat(), "last_day": last.isoformat(),
                         "rejects_per_day_last_30": args.rejects, "runs": days, "jobs": jobs, **seeded}
    log(f"seeded: {days:,} days and runs, {jobs:,} jobs ({seeded})")

    viewer = bearer("viewer")
    print(f"\nmedian / p95 of {args.repeat} runs, ms (http: through Airflow's app, at the client on loopback)")
    print(f"{'case':30} {'days':>8} {'query':>14} {'http':>14}")
    results["ivr_days_page"] = bench_ivr(client, viewer, last, days, args.repeat)
    results["scraping_dashboard"] = {"jobs": jobs, **bench_dashboard(client, viewer, args.repeat)}
    every = [c for part in ("ivr_days_page", "scraping_dashboard") for c in results[part]["cases"].values()]
    results["within_goal"] = all(c["within_goal"] for c in every)

    out = ROOT / "bench" / ("pages_results-quick.json" if args.quick else "pages_results.json")
    out.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n")
    print(f"every case within {GOAL_MS} ms (p95, http): {results['within_goal']}; written to {out.relative_to(ROOT)}")
    return 0 if results["within_goal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
