#!/usr/bin/env python
"""`make bench-pages`: the IVR days page over five years of days and the scraping jobs page over
100,000 jobs, each against :data:`GOAL_MS`; the refusal of a zip-bomb upload.

Served by Airflow's real api-server app (plugins, auth manager, JWT and permission checks) under
uvicorn on loopback in this process. Each case is timed as ``query`` (the page's read function)
and ``http`` (its API request, at the client). The seeds are kept for the next run: database
``ivr_pages_bench``, schema ``bench_pages`` of the metadata database (one succeeded run a day) and
database ``scraping_bench`` (never the real job table). Recorded in bench/pages_results.json
(pages_results-quick.json with ``--quick``: 90 days, 5,000 jobs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from benchlib import ROOT, header, log, pg, vacuum

from callcentre.devtools.airflow_processes import AIRFLOW, free_port

GOAL_MS = 200
REPEAT = 20
REJECTS_PER_DAY = 15_000  # quarantined calls a day over the last 30 days
ZIP_BOMB_GOAL_S = 0.25  # "well under a second"; before the check it took 101 s of api-server CPU
ZIP_BOMB_UNPACKED = 1 << 30
PAGES_DB = "ivr_pages_bench"
JOBS_DB = "scraping_bench"
JOBS_NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)  # the seeded jobs end here
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
    # The jobs page reads connection scraping_postgres: the bench database here (never the real
    # job table), also named scraping_bench for the seeding that empties it.
    jobs = json.dumps({**json.loads(os.environ["AIRFLOW_CONN_SCRAPING_POSTGRES"]), "schema": JOBS_DB})
    os.environ.update({"AIRFLOW_CONN_SCRAPING_POSTGRES": jobs, "AIRFLOW_CONN_SCRAPING_BENCH": jobs})
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
    """``get``/``post`` of a path of the served app."""

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


def seed_analytics(first: date, last: date) -> float:
    from callcentre.ivr import schema

    schema.migrate()
    have = pg("SELECT min(metric_date), max(metric_date), count(*) FROM analytics.daily_metrics", fetch=True)[0]
    if have == (first, last, (last - first).days + 1):
        return 0.0
    started = time.monotonic()
    tables = ("daily_metrics", "etl_batches", "call_rejects", "alert_log")
    for table in tables:
        pg(f"TRUNCATE analytics.{table}")
    span = {"first": first, "last": last, "dag": DAG_ID}
    pg(SEED_METRICS, span)
    pg(SEED_LEDGER, span)
    pg(SEED_ALERTS, span)
    for k in range(30):
        day = last - timedelta(days=k)
        pg("SELECT analytics.ensure_month_partitions(%s)", (day,))
        pg(SEED_REJECTS, {"day": day, "n": REJECTS_PER_DAY, "reasons": list(REJECT_REASONS)})
    vacuum("analytics_postgres", *(f"analytics.{table}" for table in tables))
    return time.monotonic() - started


def seed_runs(client: Client, first: date, last: date) -> float:
    """One succeeded run of the DAG per day: the first through the REST API, the rest copied in SQL."""
    from zoneinfo import ZoneInfo

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
    tz = ivr_timezone_name()
    logical_date = datetime.combine(first, datetime.min.time(), ZoneInfo(tz)).astimezone(timezone.utc)
    resp = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", headers=bearer("admin"),
                       json={"dag_run_id": "bench_template", "logical_date": logical_date.isoformat()})
    if resp.status_code != 200:
        raise SystemExit(f"creating the template run: {resp.status_code} {resp.text}")
    with create_session() as session:
        columns = [r[0] for r in session.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'dag_run' AND column_name <> 'id' ORDER BY ordinal_position"))]
        midnight = "(d::date::timestamp AT TIME ZONE :tz)"
        moved = {"run_id": "'scheduled__' || d::date", "state": "'success'", "run_type": "'scheduled'",
                 "logical_date": midnight, "data_interval_start": midnight,
                 **dict.fromkeys(("run_after", "data_interval_end", "queued_at"), f"{midnight} + interval '1 day'"),
                 "start_date": f"{midnight} + interval '1 day 1 hour'",
                 "end_date": f"{midnight} + interval '1 day 1 hour 4 minutes'"}
        exprs = [moved.get(c, c) for c in columns]
        session.execute(text(
            f"INSERT INTO dag_run ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM dag_run, "
            "generate_series(CAST(:first AS date) + 1, CAST(:last AS date), interval '1 day') AS d "
            "WHERE dag_id = :dag AND run_id = :template"),
            {"tz": tz, "first": first, "last": last, "dag": DAG_ID, "template": "bench_template"})
        session.execute(text("UPDATE dag_run SET state = 'success', run_type = 'scheduled' WHERE dag_id = :d"),
                        {"d": DAG_ID})
    return time.monotonic() - started


POPULATE = """
INSERT INTO scraping.jobs (file_name, upload_path, content_sha256, uploader, status, created_at, updated_at,
                           started_at, completed_at, retry_count, max_retries, last_error, total_numbers,
                           processed_numbers, airflow_run_id, results_file)
SELECT format('%%s_%%s_%%s.xlsx', (ARRAY['clientes','cartera','leads','cobranza','ventas'])[1 + n %% 5],
              to_char(created, 'YYYYMMDD'), n),
       format('/uploads/%%s.xlsx', n), md5(n::text) || md5((n * 7)::text),
       format('agent%%s', n %% 200), status, created, created, created + interval '1 minute',
       CASE WHEN status IN ('completed', 'failed', 'timeout') THEN created + interval '20 minutes' END,
       CASE WHEN status IN ('failed', 'timeout') THEN n %% 4 ELSE 0 END, 3,
       CASE WHEN status = 'failed' THEN format('batch %%s: the API could not process batch (HTTP 503)', n %% 9) END,
       250 + n %% 4000, CASE WHEN status = 'completed' THEN 250 + n %% 4000 ELSE 0 END,
       format('upload__%%s', substr(md5(n::text), 1, 16)),
       CASE WHEN status = 'completed' THEN format('/results/job%%s.xlsx', n) END
FROM (SELECT n, %(start)s::timestamptz - n * interval '10 minutes' AS created,  -- about two years
             (ARRAY['completed','completed','completed','completed','completed','completed','completed',
                    'failed','failed','timeout','processing','pending','retrying'])[1 + n %% 13] AS status
      FROM generate_series(1, %(rows)s) AS n) AS g
"""


def populate(rows: int) -> float:
    from callcentre.common.pg import transaction
    from callcentre.scraping.jobs import JobRepository

    JobRepository(JOBS_DB).migrate()
    if pg("SELECT count(*) FROM scraping.jobs", fetch=True, conn_id=JOBS_DB)[0][0] == rows:
        return 0.0
    started = time.perf_counter()
    with transaction(JOBS_DB) as cur:
        cur.execute("TRUNCATE scraping.jobs RESTART IDENTITY CASCADE")
        cur.execute(POPULATE, {"rows": rows, "start": JOBS_NOW})
    vacuum(JOBS_DB, "scraping.jobs")  # the visibility map: index-only scans
    return time.perf_counter() - started


# --- the measurements -----------------------------------------------------------------------------

def timed(fn) -> tuple[dict, object]:
    """Median and p95 of :data:`REPEAT` calls of ``fn`` (after one to warm the cache and
    connection path), and its last result."""
    fn()
    samples, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1)}, result


def case(name: str, count, query_t: dict | None, http_t: dict, **facts) -> dict:
    """One case's record (its p95 over HTTP against :data:`GOAL_MS`), its line printed."""
    q = f"{query_t['median_ms']:>6} / {query_t['p95_ms']:<6}" if query_t else f"{'-':>15}"
    print(f"{name:30} {count if count is not None else '':>8} {q}{http_t['median_ms']:>6} / {http_t['p95_ms']:<6}")
    return {**facts, "query": query_t, "http": http_t, "within_goal": http_t["p95_ms"] <= GOAL_MS}


def job_list_cases(jobs: int) -> dict[str, dict]:
    """Name -> API query parameters; what staff do on the page."""
    month = {"created_from": (JOBS_NOW - timedelta(days=60)).isoformat(), "created_to": (JOBS_NOW - timedelta(days=30)).isoformat()}
    return {
        "newest first (default)": {},
        "status failed": {"status": "failed"},
        "created in one month": month,
        "one uploader": {"uploader": "agent42"},
        "failed + uploader + month": {"status": "failed", "uploader": "agent42", **month},
        "search file name part": {"search": "ventas_2026"},
        "search uploader part": {"search": "agent19"},
        "search job id": {"search": "#73512"},
        "sort by file name": {"sort": "file_name", "order": "asc"},
        "sort by completed": {"sort": "completed_at", "order": "desc"},
        f"last page (offset {jobs - 50:,})": {"page": jobs // 50},
    }


def to_query(params: dict):
    from callcentre.scraping_page.queries import JobQuery

    return JobQuery(
        statuses=tuple([params["status"]]) if "status" in params else (),
        created_from=datetime.fromisoformat(params["created_from"]) if "created_from" in params else None,
        created_to=datetime.fromisoformat(params["created_to"]) if "created_to" in params else None,
        uploader=params.get("uploader"), search=params.get("search"), sort=params.get("sort", "created_at"),
        descending=params.get("order", "desc") == "desc", page=params.get("page", 1),
    )


def dashboard_cases() -> dict[str, dict]:
    """Name -> dashboard parameters: the default 30 days, and the longest range it accepts."""
    last = (JOBS_NOW - timedelta(days=1)).date()
    return {
        "dashboard, 30 days (default)": {"from_day": str(last - timedelta(days=29)), "to_day": str(last),
                                         "tz": "America/Bogota"},
        "dashboard, 366 days": {"from_day": str(last - timedelta(days=365)), "to_day": str(last),
                                "tz": "America/Bogota"},
    }


def bench_dashboard(client, headers) -> dict:
    from callcentre.scraping_page import dashboard

    report = {"goal_ms": GOAL_MS, "cases": {}}
    for name, params in dashboard_cases().items():
        span = dashboard.day_range(date.fromisoformat(params["from_day"]), date.fromisoformat(params["to_day"]),
                                   params["tz"], JOBS_NOW)
        query_t, figures = timed(lambda s=span: dashboard.figures(s, JOBS_DB))
        http_t, resp = timed(lambda p=params: client.get("/scraping-jobs/api/dashboard", params=p, headers=headers))
        assert resp.status_code == 200, resp.text
        assert resp.json()["days"] == figures["days"]
        jobs = sum(d["total"] for d in figures["days"])
        report["cases"][name] = case(name, f"{jobs:,}", query_t, http_t, params=params, jobs=jobs)
    return report


def bench_job_list(client, headers, jobs: int) -> dict:
    from callcentre.scraping_page import queries

    report = {"goal_ms": GOAL_MS, "cases": {}}
    for name, params in job_list_cases(jobs).items():
        query_t, page = timed(lambda p=params: queries.list_jobs(to_query(p), JOBS_DB))
        http_t, resp = timed(lambda p=params: client.get("/scraping-jobs/api/jobs", params=p, headers=headers))
        assert resp.status_code == 200, resp.text
        assert resp.json()["total"] == page.total and len(resp.json()["jobs"]) == len(page.jobs)
        report["cases"][name] = case(name, f"{page.total:,}", query_t, http_t, params=params, matches=page.total)
    return report


def zip_bomb() -> dict:
    """The refusal of an upload that unpacks to 1 GB, from stream to answer, as the upload route does it."""
    import openpyxl

    from callcentre.scraping_page.intake import UploadRefused, received_upload

    book = openpyxl.Workbook()
    book.active.append(["phone"])
    plain = io.BytesIO()
    book.save(plain)
    packed = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(item, src.read(item))
                continue
            head, tail = src.read(item).split(b"</sheetData>")
            with bomb.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(head)
                for _ in range(ZIP_BOMB_UNPACKED >> 20):  # whitespace inside the sheet's data
                    sheet.write(b" " * (1 << 20))
                sheet.write(b"</sheetData>" + tail)

    def refuse() -> str:
        try:
            with received_upload(io.BytesIO(packed.getvalue()), "bomba.xlsx"):
                pass
        except UploadRefused as err:
            return str(err)
        raise AssertionError("the zip bomb was accepted")

    times, message = timed(refuse)
    return {"packed_bytes": len(packed.getvalue()), "unpacked_bytes": ZIP_BOMB_UNPACKED, "refusal": times,
            "goal_s": ZIP_BOMB_GOAL_S, "within_goal": times["p95_ms"] / 1000 <= ZIP_BOMB_GOAL_S, "message": message}


def bench_ivr(client: Client, headers: dict, last: date, days: int) -> dict:
    from callcentre.ivr_page import queries

    first = last - timedelta(days=days - 1)
    detail_day = last - timedelta(days=3)
    cases = {  # name: the API request, and the page's read function behind it (the charts: none)
        "calendar, 90 days (default)": ("/ivr-days/api/days", {}, lambda: queries.calendar(last - timedelta(days=89), last)),
        f"calendar, {days} days": ("/ivr-days/api/days", {"from_day": str(first), "to_day": str(last)},
                                   lambda: queries.calendar(first, last)),
        "one day's detail": (f"/ivr-days/api/days/{detail_day}", {}, lambda: queries.day_detail(detail_day)),
        "rejects chart (SVG)": (f"/ivr-days/api/days/{detail_day}/rejects.svg", {}, None),
        "hours strip (SVG)": (f"/ivr-days/api/days/{detail_day}/hours.svg", {}, None),
    }
    report = {"goal_ms": GOAL_MS, "days_seeded": days, "cases": {}}
    for name, (path, params, query) in cases.items():
        query_t = timed(query)[0] if query else None
        http_t, resp = timed(lambda p=path, q=params: client.get(p, params=q, headers=headers))
        if resp.status_code != 200:
            raise SystemExit(f"{path}: {resp.status_code} {resp.text[:500]}")
        facts = {"path": path, "params": params, "days_shown": None, "states": None, "runs_seen": None}
        if path.endswith("days"):
            shown = resp.json()["days"]
            facts.update(days_shown=len(shown), states=dict(Counter(d["state"] for d in shown)),  # the seeds were read
                         runs_seen=sum(d.get("runs", 0) for d in shown))
        report["cases"][name] = case(name, facts["days_shown"], query_t, http_t, **facts)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="90 days and 5,000 jobs, into pages_results-quick.json")
    parser.add_argument("--days", type=int, help="days of IVR history (default 1,826: five years; quick 90)")
    parser.add_argument("--jobs", type=int, help="scraping jobs (default 100,000; quick 5,000)")
    args = parser.parse_args()
    days = args.days or (90 if args.quick else 5 * 365 + 1)
    jobs = args.jobs or (5_000 if args.quick else 100_000)
    point_connections()
    from callcentre.ivr.business_day import ivr_timezone_name
    from zoneinfo import ZoneInfo

    last = datetime.now(ZoneInfo(ivr_timezone_name())).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    results = header(args.quick, repeat=REPEAT)

    log(f"Airflow metadata in schema {METADATA_SCHEMA}: migrate, serialize the DAGs")
    airflow_cli("db", "migrate")
    airflow_cli("dags", "reserialize")
    client = Client(serve())
    seeded = {"analytics_s": round(seed_analytics(first, last), 1), "runs_s": round(seed_runs(client, first, last), 1),
              "jobs_s": round(populate(jobs), 1)}
    results["seeded"] = {"days": days, "first_day": first.isoformat(), "last_day": last.isoformat(),
                         "rejects_per_day_last_30": REJECTS_PER_DAY, "runs": days, "jobs": jobs, **seeded}
    log(f"seeded: {days:,} days and runs, {jobs:,} jobs ({seeded})")

    viewer = bearer("viewer")
    print(f"\nmedian / p95 of {REPEAT} runs, ms (http: through Airflow's app, at the client on loopback)")
    print(f"{'case':30} {'days':>8} {'query':>14} {'http':>14}")
    results["ivr_days_page"] = bench_ivr(client, viewer, last, days)
    results["scraping_jobs_list"] = {"jobs": jobs, **bench_job_list(client, viewer, jobs)}
    results["scraping_dashboard"] = {"jobs": jobs, **bench_dashboard(client, viewer)}
    results["zip_bomb"] = zip_bomb()
    refusal = results["zip_bomb"]["refusal"]
    print(f"zip bomb ({results['zip_bomb']['packed_bytes']:,} bytes packed, 1 GB unpacked) refused in "
          f"{refusal['median_ms']} / {refusal['p95_ms']} ms (goal {ZIP_BOMB_GOAL_S * 1000:.0f} ms)")
    every = [c for part in ("ivr_days_page", "scraping_jobs_list", "scraping_dashboard")
             for c in results[part]["cases"].values()]
    results["within_goal"] = all(c["within_goal"] for c in every) and results["zip_bomb"]["within_goal"]

    out = ROOT / "bench" / ("pages_results-quick.json" if args.quick else "pages_results.json")
    out.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n")
    print(f"every case within its goal (p95, http): {results['within_goal']}; written to {out.relative_to(ROOT)}")
    return 0 if results["within_goal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
