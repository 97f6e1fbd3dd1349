#!/usr/bin/env python
"""`make bench`: the hourly load against Airflow's GenericTransfer and the raw copy limit.

On the local MariaDB and PostgreSQL (`make services`), with a synthetic day of 1,000,000 calls
(`--quick`: 100,000), measured in one run, side by side:

1. ours: the 24 hourly loads of the day, as the DAG's task code runs them (callcentre.ivr.load.
   load_hour: validation and the idempotent replace included), one after the other in a child
   process whose peak RSS is read from the kernel; first load and reload of the same day;
2. GenericTransfer (common-sql provider) on a sample of the day, extrapolated;
3. the raw limit: `mariadb --batch --quick` piped into `psql \\copy` into a plain table with the
   same columns, and (for reference) into one that also has analytics.calls' keys;
4. each DAG file's parse time (`airflow dags report`).

Prints one table and writes bench/results.json (bench/results-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
AIRFLOW = str(Path(PY).with_name("airflow"))
DAYS = {1_000_000: date(2030, 1, 15), 100_000: date(2030, 1, 16), 20_000: date(2030, 1, 17)}
SELECT_DAY = (
    "SELECT call_id, start_time, end_time, duration, caller_number, dialed_number, ivr_path, disposition, "
    "queue_name, agent_id, wait_seconds, updated_at FROM calls WHERE start_time >= '{d}' AND start_time < '{e}'"
)
RAW_COLUMNS = (
    "call_id bigint, start_time timestamp, end_time timestamp, duration integer, caller_number varchar(32), "
    "dialed_number varchar(32), ivr_path varchar(255), disposition varchar(16), queue_name varchar(64), "
    "agent_id integer, wait_seconds integer, updated_at timestamp"
)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connection(name: str) -> dict:
    return json.loads(os.environ[f"AIRFLOW_CONN_{name.upper()}"])


def pg_sql(sql: str) -> None:
    from callcentre.common.pg import transaction

    with transaction("analytics_postgres") as cur:
        cur.execute(sql)


def prepare_day(rows: int) -> date:
    """Write a synthetic day of ``rows`` calls to the source (same generator as demo and tests)."""
    from callcentre.ivr import schema, synthetic

    day = DAYS[rows]
    synthetic.create_source_table()
    schema.migrate()
    synthetic.delete_day(day)
    started = time.monotonic()
    synthetic.write_calls(synthetic.day_calls(day, rows, seed=2030))
    log(f"source day {day}: {rows:,} calls written in {time.monotonic() - started:.1f}s (not timed below)")
    return day


def clear_target(day: date) -> None:
    """Start from an empty partition so the first load is a first load."""
    pg_sql(
        f"DELETE FROM analytics.calls WHERE business_date = '{day}';"
        f"DELETE FROM analytics.call_rejects WHERE business_date = '{day}';"
        f"DELETE FROM analytics.etl_batches WHERE business_date = '{day}'"
    )


LOAD_DAY = """
import sys, time, logging
from datetime import date
logging.disable(logging.INFO)
from callcentre.ivr.load import load_hour
day = date.fromisoformat(sys.argv[1])
started = time.monotonic()
rows = sum(load_hour(day, hour, tz_name="UTC", run_id="bench").rows_read for hour in range(24))
elapsed = time.monotonic() - started
# VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, copied at fork).
hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(rows, elapsed, hwm_kb)
"""


def ours(day: date) -> dict:
    """The day's 24 hourly loads in a child process: rows, seconds, peak RSS (MB)."""
    proc = subprocess.run([PY, "-c", LOAD_DAY, day.isoformat()], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()  # Airflow may log to stdout first
    out = lines[-1].split() if lines else []
    if proc.returncode != 0 or len(out) != 3:
        raise SystemExit(f"load of {day} failed")
    rows, seconds, hwm_kb = int(out[0]), float(out[1]), int(out[2])
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": hwm_kb / 1024}


def raw(day: date, keyed: bool) -> dict:
    """mariadb --batch --quick | psql \\copy: the practical ceiling of moving the rows."""
    my, pg = connection("ivr_mariadb"), connection("analytics_postgres")
    table = "bench.raw_keyed" if keyed else "bench.raw_plain"
    keys = ", PRIMARY KEY (call_id)" if keyed else ""
    pg_sql(f"CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({RAW_COLUMNS}{keys})")
    if keyed:
        pg_sql(f"CREATE INDEX ON {table} (start_time)")
    env = dict(os.environ, MYSQL_PWD=my["password"], PGPASSWORD=pg["password"])
    select = SELECT_DAY.format(d=day, e=day + timedelta(days=1))
    pipeline = (
        f"mariadb --batch --quick --skip-column-names -h {my['host']} -P {my['port']} -u {my['login']} {my['schema']}"
        f" -e \"{select}\" | psql -q -h {pg['host']} -p {pg['port']} -U {pg['login']} {pg['schema']}"
        f" -c \"\\copy {table} FROM STDIN WITH (NULL 'NULL')\""
    )
    started = time.monotonic()
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, env=env)
    seconds = time.monotonic() - started
    from callcentre.common.pg import transaction

    with transaction("analytics_postgres") as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        rows = cur.fetchone()[0]
    pg_sql(f"DROP TABLE {table}")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def generic_transfer(day: date, sample: int) -> dict:
    """Airflow's stock GenericTransfer on ``sample`` rows of the day (extrapolated by the caller)."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    pg_sql(f"CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.generic_target; CREATE TABLE bench.generic_target ({RAW_COLUMNS})")
    select = SELECT_DAY.format(d=day, e=day + timedelta(days=1)) + f" LIMIT {sample}"
    op = GenericTransfer(
        task_id="generic_transfer_bench",
        sql=select,
        source_conn_id="ivr_mariadb",
        destination_conn_id="analytics_postgres",
        destination_table="bench.generic_target",
        insert_args={"commit_every": 1000},
    )
    started = time.monotonic()
    op.execute(context={})
    seconds = time.monotonic() - started
    from callcentre.common.pg import transaction

    with transaction("analytics_postgres") as cur:
        cur.execute("SELECT count(*) FROM bench.generic_target")
        rows = cur.fetchone()[0]
    pg_sql("DROP TABLE bench.generic_target")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def parse_times() -> dict[str, float]:
    out = subprocess.run([AIRFLOW, "dags", "report", "-o", "json"], capture_output=True, text=True, check=True).stdout
    report = next(json.loads(line) for line in out.splitlines() if line.startswith("["))
    times = {}
    for entry in report:
        duration = str(entry.get("duration", "0"))
        # "0:00:00.061234" or seconds
        if ":" in duration:
            h, m, s = duration.split(":")
            seconds = int(h) * 3600 + int(m) * 60 + float(s)
        else:
            seconds = float(duration)
        times[Path(entry["file"]).name] = round(seconds * 1000, 1)
    return times


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import airflow

    return {"cores": os.cpu_count(), "memory_gb": round(int(meminfo[1]) / 1024 / 1024, 1), "cpu": cpu,
            "python": platform.python_version(), "airflow": airflow.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 100k-call day (20k for the memory comparison)")
    args = parser.parse_args()
    big, small = (100_000, 20_000) if args.quick else (1_000_000, 100_000)
    sample = 5_000 if args.quick else 20_000
    started = time.monotonic()

    results: dict = {"date": datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "rows": big,
                     "machine": machine()}
    days = {n: prepare_day(n) for n in (small, big)}

    runs = {}
    for n, day in days.items():
        clear_target(day)
        log(f"ours: first load of {n:,} rows")
        first = ours(day)
        log(f"ours: reload of {n:,} rows (idempotent replace of every hour)")
        again = ours(day)
        runs[n] = {"first_load": first, "reload": again}
    ours_big = runs[big]["first_load"]
    log("raw: mariadb | psql into a plain table, then into a keyed one")
    raw_plain, raw_keyed = raw(days[big], keyed=False), raw(days[big], keyed=True)
    log(f"GenericTransfer on a {sample:,}-row sample")
    generic = generic_transfer(days[big], sample)
    log("parse times (airflow dags report)")
    parse_ms = parse_times()

    results.update(
        ours_rows_per_s=round(ours_big["rows_per_s"]),
        ours_reload_rows_per_s=round(runs[big]["reload"]["rows_per_s"]),
        raw_rows_per_s=round(raw_plain["rows_per_s"]),
        raw_keyed_rows_per_s=round(raw_keyed["rows_per_s"]),
        generic_transfer_rows_per_s=round(generic["rows_per_s"]),
        generic_transfer_extrapolated=True,
        generic_transfer_sample_rows=generic["rows"],
        generic_transfer_extrapolated_seconds=round(big / generic["rows_per_s"], 1),
        fraction_of_raw=round(ours_big["rows_per_s"] / raw_plain["rows_per_s"], 3),
        fraction_of_raw_keyed=round(ours_big["rows_per_s"] / raw_keyed["rows_per_s"], 3),
        speedup_vs_generic=round(ours_big["rows_per_s"] / generic["rows_per_s"], 1),
        peak_rss_mb={str(n): round(runs[n]["first_load"]["peak_rss_mb"], 1) for n in (small, big)},
        peak_rss_ratio=round(runs[big]["first_load"]["peak_rss_mb"] / runs[small]["first_load"]["peak_rss_mb"], 3),
        parse_ms=parse_ms,
        runs={str(n): r for n, r in runs.items()},
        raw={"plain": raw_plain, "keyed": raw_keyed},
        generic_transfer=generic,
        bench_seconds=round(time.monotonic() - started, 1),
    )
    out = ROOT / "bench" / ("results-quick.json" if args.quick else "results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")

    m = results["machine"]
    print(f"\nIVR hourly load benchmark — {big:,} calls/day — {m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}")
    rows = [
        ("ours (24 hourly loads, first load)", ours_big["seconds"], ours_big["rows_per_s"], ""),
        ("ours (reload: idempotent replace)", runs[big]["reload"]["seconds"], runs[big]["reload"]["rows_per_s"], ""),
        ("raw: mariadb | psql \\copy, plain table", raw_plain["seconds"], raw_plain["rows_per_s"], ""),
        ("raw: same, table with keys", raw_keyed["seconds"], raw_keyed["rows_per_s"], ""),
        (f"GenericTransfer ({generic['rows']:,}-row sample)", big / generic["rows_per_s"], generic["rows_per_s"], "extrapolated"),
    ]
    print(f"{'method':44} {'seconds':>9} {'rows/s':>10}")
    for name, seconds, rate, note in rows:
        print(f"{name:44} {seconds:9.1f} {rate:10,.0f} {note}")
    print(f"\nours / raw (plain): {results['fraction_of_raw']:.0%}   ours / raw (keyed): {results['fraction_of_raw_keyed']:.0%}"
          f"   speed-up vs GenericTransfer: {results['speedup_vs_generic']:.0f}x")
    print(f"peak RSS of our load: {results['peak_rss_mb']}  (ratio {results['peak_rss_ratio']:.2f})")
    print(f"DAG parse times (ms): {parse_ms}")
    print(f"written to {out.relative_to(ROOT)} in {results['bench_seconds']:.0f}s")


if __name__ == "__main__":
    main()
