#!/usr/bin/env python
"""`make bench`: the hourly load against Airflow's GenericTransfer and the raw copy limit.

On the local MariaDB and PostgreSQL, a synthetic day of 1,000,000 calls (`--quick`: 100,000):

1. ours: the day's 24 hourly loads as the DAG's tasks run them (`load_hour`), one hour at a time
   and as many at once as the DAG's pool allows; first load and reload; peak RSS;
2. GenericTransfer (common-sql provider) on a sample of the day, extrapolated;
3. the raw limit: `mariadb --batch --quick | psql \\copy` into a plain table, into one keyed as
   the unpartitioned analytics.calls was (call_id, start_time: the issues' reference) and into the
   target's own shape (a month partition and call_keys);
4. each DAG file's parse time (`airflow dags report`).

Writes bench/results.json (bench/results-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from contextlib import nullcontext
from unittest import mock
from datetime import date, timedelta
from pathlib import Path

from benchlib import PY, ROOT, fastest, header, log, mariadb, pg, record, results_file, vacuum

from callcentre.devtools.airflow_processes import AIRFLOW
from callcentre.ivr.columns import SOURCE

# Slots of the ivr_mariadb pool that scripts/airflow_init.sh creates: the most hours the DAG loads at once.
POOL_SLOTS = int(os.environ.get("IVR_MARIADB_POOL_SLOTS", "4"))
# The bigger the day, the newer: each size's first load is the newest day loaded so far, as the
# daily run's is (its call ids lie above everything in the target: no id needs probing).
DAYS = {20_000: date(2030, 1, 15), 100_000: date(2030, 1, 16), 1_000_000: date(2030, 1, 17)}
# Older calls, so that the source holds more than the day measured, as a production IVR table
# does (with one day only, MariaDB reads the whole table for each hour instead of its start_time
# index). Written once and kept.
HISTORY = (date(2030, 1, 10), 1_000_000)
SELECT_DAY = f"SELECT {', '.join(c.name for c in SOURCE)} FROM calls WHERE start_time >= '{{d}}' AND start_time < '{{e}}'"
RAW_COLUMNS = ", ".join(f"{c.name} {c.pg_type}" for c in SOURCE)
# The raw copy into the target's shape: each analytics.calls column (loaded_at aside) as MariaDB
# selects it, the place first (its first three fields are the keys').
SHAPE_COLUMNS = {"call_id": "call_id", "business_date": "DATE(start_time)", "local_hour": "HOUR(start_time)",
                 **{c.calls_column: c.name for c in SOURCE[1:]},
                 **{name: c.name for c in SOURCE for name in c.derived}, "loaded_by_run_id": "'raw'"}


def connection(name: str) -> dict:
    return json.loads(os.environ[f"AIRFLOW_CONN_{name.upper()}"])


def source_day_rows(day: date) -> int:
    from callcentre.ivr.source import count_by_hour, source_connection

    with source_connection() as conn:
        return sum(count_by_hour(conn, day).values())


def write_day(day: date, rows: int) -> None:
    """Write a synthetic day of ``rows`` calls to the source (same generator as demo and tests)."""
    from callcentre.ivr import synthetic

    synthetic.delete_day(day)
    started = time.monotonic()
    if rows:  # 0: an empty day
        synthetic.write_calls(synthetic.day_calls(day, rows, seed=2030))
    log(f"source day {day}: {rows:,} calls written in {time.monotonic() - started:.1f}s (not timed below)")


def prepare_source(sizes: tuple[int, ...]) -> dict[int, date]:
    from callcentre.ivr import schema, synthetic

    synthetic.create_source_table()
    schema.migrate()
    if source_day_rows(HISTORY[0]) != HISTORY[1]:
        write_day(*HISTORY)
    for n in sizes:
        write_day(DAYS[n], n)
    mariadb("ANALYZE TABLE calls")
    return {n: DAYS[n] for n in sizes}


def settle() -> None:
    """VACUUM ANALYZE the target (call_keys too: a cleared day's keys are dead entries), so that
    autovacuum does not start in the middle of the next timed run."""
    vacuum("analytics_postgres", "analytics.calls", "analytics.call_rejects", "analytics.call_keys")


def clear_target(day: date) -> None:
    """Start from an empty partition (vacuumed, as a day never loaded) so a first load is one."""
    pg(";".join(f"DELETE FROM analytics.{table} WHERE business_date = '{day}'"
                for table in ("calls", "call_rejects", "etl_batches")))
    settle()


# The day's 24 hourly loads as the DAG's mapped load_hour tasks run them, `workers` hours at a time
# in worker processes that import and connect before the clock starts, as a task's process has.
LOAD_DAY = """
import sys, time, logging
from concurrent.futures import ProcessPoolExecutor
from datetime import date
logging.disable(logging.INFO)

def warm():
    import logging; logging.disable(logging.INFO)
    from callcentre.common.pg import postgres_conn
    from callcentre.ivr.load import load_hour
    from callcentre.ivr.source import source_connection
    with source_connection(): pass
    postgres_conn("analytics_postgres").close()

def hour(day, h):
    from callcentre.ivr.load import load_hour
    from callcentre.ivr.runtime import timezone_name
    cpu = time.process_time()
    rows = load_hour(date.fromisoformat(day), h, tz_name=timezone_name(), run_id="bench").rows_read
    cpu = time.process_time() - cpu  # the load's own client work, start-up and imports left out
    # VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, copied at fork).
    return rows, next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")), cpu

day, workers = sys.argv[1], int(sys.argv[2])
with ProcessPoolExecutor(workers, initializer=warm) as pool:
    list(pool.map(time.sleep, [0.2] * workers))  # every worker started and warm
    started = time.monotonic()
    done = list(pool.map(hour, [day] * 24, range(24)))
    elapsed = time.monotonic() - started
print(sum(r for r, _, _ in done), elapsed, max(k for _, k, _ in done), sum(c for _, _, c in done))
"""


def ours(day: date, workers: int) -> dict:
    """The day's 24 hourly loads by ``workers`` processes: rows, seconds, peak RSS of a worker (MB)."""
    proc = subprocess.run([PY, "-c", LOAD_DAY, day.isoformat(), str(workers)], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()  # Airflow may log to stdout first
    out = lines[-1].split() if lines else []
    if proc.returncode != 0 or len(out) != 4:
        raise SystemExit(f"load of {day} failed")
    rows, seconds, hwm_kb, cpu = int(out[0]), float(out[1]), int(out[2]), float(out[3])
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": hwm_kb / 1024,
            "workers": workers, "client_cpu_s": round(cpu, 2)}


def ours_round(day: date, workers: int) -> dict:
    """First load of ``day`` (from an empty partition), then its reload."""
    clear_target(day)
    first = ours(day, workers)
    settle()
    return {"first_load": first, "reload": ours(day, workers)}


def raw(day: date, keyed: bool, streams: int = 1, shape: bool = False) -> dict:
    """mariadb --batch --quick | psql \\copy: the practical ceiling of moving the rows; with
    ``streams`` pipelines at once, each a slice of the day's ids (the DAG loads hours side by side).

    ``shape``: into the target's own keys instead (a month partition keyed (business_date,
    local_hour, call_id) and a call_keys-shaped table keeping call_id unique across partitions,
    each row read once and teed into both COPYs): what writing a day into that structure costs
    with nothing else done, no validation, stage or replace."""
    my, target = connection("ivr_mariadb"), connection("analytics_postgres")
    table = "bench.raw_shape" if shape else "bench.raw_keyed" if keyed else "bench.raw_plain"
    if shape:
        month = day.replace(day=1)
        pg("CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.raw_shape, bench.raw_shape_keys;"
           # analytics.calls' columns and defaults (loaded_at), without its NOT NULLs: a raw copy takes every row.
           " CREATE TABLE bench.raw_shape (LIKE analytics.calls INCLUDING DEFAULTS,"
           " PRIMARY KEY (business_date, local_hour, call_id)) PARTITION BY RANGE (business_date);"
           f" CREATE TABLE bench.raw_shape_month PARTITION OF bench.raw_shape FOR VALUES FROM ('{month}')"
           f" TO ('{(month + timedelta(days=32)).replace(day=1)}');"
           " CREATE TABLE bench.raw_shape_keys (call_id bigint PRIMARY KEY, business_date date NOT NULL,"
           " local_hour smallint NOT NULL)")
        for column in list(SHAPE_COLUMNS)[3:]:
            pg(f"ALTER TABLE bench.raw_shape ALTER COLUMN {column} DROP NOT NULL")
    else:
        keys = ", PRIMARY KEY (call_id)" if keyed else ""
        pg(f"CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({RAW_COLUMNS}{keys})")
    if keyed and not shape:
        pg(f"CREATE INDEX ON {table} (start_time)")
    env = dict(os.environ, MYSQL_PWD=my["password"], PGPASSWORD=target["password"])
    # The raw copy gets the day's primary-key slice too (bounds looked up untimed), so MariaDB
    # reads it in key order whatever else the table holds: the best plan, as ours has.
    low, high = mariadb("SELECT MIN(call_id), MAX(call_id) FROM calls WHERE start_time >= %s AND start_time < %s",
                        (day, day + timedelta(days=1)))[0]
    cuts = [low + (high - low + 1) * i // streams for i in range(streams + 1)]
    select = SELECT_DAY.format(d=day, e=day + timedelta(days=1))
    if shape:
        select = select.replace(SELECT_DAY.split(" FROM ")[0], f"SELECT {', '.join(SHAPE_COLUMNS.values())}", 1)
    read = f"mariadb --batch --quick --skip-column-names -h {my['host']} -P {my['port']} -u {my['login']} {my['schema']}"
    psql = f"psql -q -h {target['host']} -p {target['port']} -U {target['login']} {target['schema']}"
    into = f"bench.raw_shape_month ({', '.join(SHAPE_COLUMNS)})" if shape else table
    copy = f"{psql} -c \"\\copy {into} FROM STDIN WITH (NULL 'NULL')\""
    pipelines = [f"{read} -e \"{select} AND call_id BETWEEN {a} AND {b - 1}\"" for a, b in zip(cuts, cuts[1:])]
    if shape:  # each row read once: its first three fields also go through a FIFO into the keys' COPY
        pipelines = [f"f=$(mktemp -u) && mkfifo $f && {{ cut -f1-3 <$f | {psql} -c \"\\copy bench.raw_shape_keys"
                     f" FROM STDIN\" & }} && {p} | tee $f | {copy} && wait $! && rm $f" for p in pipelines]
    else:
        pipelines = [f"{p} | {copy}" for p in pipelines]
    started = time.monotonic()
    running = [subprocess.Popen(["bash", "-o", "pipefail", "-c", p], env=env) for p in pipelines]
    if any([proc.wait() != 0 for proc in running]):  # every pipeline waited for
        raise SystemExit(f"raw copy of {day} into {table} failed")
    seconds = time.monotonic() - started
    rows = pg(f"SELECT count(*) FROM {table}", fetch=True)[0][0]
    pg(f"DROP TABLE {table}")
    if shape:
        if pg("SELECT count(*) FROM bench.raw_shape_keys", fetch=True)[0][0] != rows:
            raise SystemExit(f"raw copy of {day}: bench.raw_shape_keys does not hold one key per row copied")
        pg("DROP TABLE bench.raw_shape_keys")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "streams": streams}


def generic_transfer(day: date, sample: int, psycopg2: bool = False) -> dict:
    """Airflow's stock GenericTransfer on ``sample`` rows of the day (extrapolated by the caller);
    ``psycopg2``: PostgresHook as on the Airflow 2.11 leg (plain executemany), a reference figure
    only (on Airflow 3 the provider picks psycopg 3 at import)."""
    import airflow.providers.postgres.hooks.postgres as hook_module
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    pg(f"CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.generic_target; CREATE TABLE bench.generic_target ({RAW_COLUMNS})")
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
    with mock.patch.object(hook_module, "USE_PSYCOPG3", False) if psycopg2 else nullcontext():
        op.execute(context={})
    seconds = time.monotonic() - started
    rows = pg("SELECT count(*) FROM bench.generic_target", fetch=True)[0][0]
    pg("DROP TABLE bench.generic_target")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def parse_times() -> dict[str, float]:
    out = subprocess.run([AIRFLOW, "dags", "report", "-o", "json"], capture_output=True, text=True, check=True).stdout
    report = next(json.loads(line) for line in out.splitlines() if line.startswith("["))
    times = {}
    for entry in report:
        h, m, s = entry["duration"].split(":")  # a timedelta: "0:00:00.061234"
        times[Path(entry["file"]).name] = round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000, 1)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 100k-call day (20k for the memory comparison)")
    args = parser.parse_args()
    big, small = (100_000, 20_000) if args.quick else (1_000_000, 100_000)
    sample = 5_000 if args.quick else 50_000
    repeat = 1 if args.quick else 3
    workers = min(os.cpu_count() or 1, POOL_SLOTS)  # hours loaded at once: cores, at most the pool's slots
    started = time.monotonic()

    results = header(args.quick, rows=big, workers=workers, repeat=repeat)
    days = prepare_source((small, big))

    # The figures compared (ours at the DAG's concurrency, raw plain and keyed) are measured in
    # rounds, one after the other, and the fastest of each kept: this shared machine's speed
    # drifts by tens of percent over minutes, and interleaving lets each see the same windows.
    rounds = []
    for i in range(repeat):
        log(f"round {i + 1}/{repeat}: ours ({workers} hours at a time), raw plain, raw keyed (1 and 2 streams),"
            " raw into the target's shape")
        ours_try = ours_round(days[big], workers)
        settle()
        plain_try = raw(days[big], keyed=False)
        settle()
        keyed_try = raw(days[big], keyed=True)
        settle()
        keyed_2_try = raw(days[big], keyed=True, streams=2)
        settle()
        rounds.append({"ours": ours_try, "raw_plain": plain_try, "raw_keyed": keyed_try, "raw_keyed_2_streams": keyed_2_try,
                       "raw_target_shape_2_streams": raw(days[big], keyed=True, streams=2, shape=True)})
    ours_big = fastest([r["ours"]["first_load"] for r in rounds])
    reload_big = fastest([r["ours"]["reload"] for r in rounds])
    raw_plain = fastest([r["raw_plain"] for r in rounds])
    raw_keyed_1 = fastest([r["raw_keyed"] for r in rounds])
    raw_keyed_2 = fastest([r["raw_keyed_2_streams"] for r in rounds])
    # Ours is compared with the faster of the one- and two-stream keyed copies (the DAG's own
    # concurrency is two hours at a time), in each round as overall.
    raw_keyed = fastest([raw_keyed_1, raw_keyed_2])
    raw_shape = fastest([r["raw_target_shape_2_streams"] for r in rounds])
    for r in rounds:
        r["raw_keyed_faster"] = fastest([r["raw_keyed"], r["raw_keyed_2_streams"]])
    # One hour at a time, at both sizes: the peak memory of one process loading a whole day.
    runs: dict = {str(big): {f"workers_{workers}": {"first_load": ours_big, "reload": reload_big}}}
    for n in (small, big):
        log(f"ours: {n:,} rows, one hour at a time: first load and reload")
        runs.setdefault(str(n), {})["workers_1"] = ours_round(days[n], 1)
    log(f"GenericTransfer on a {sample:,}-row sample, best of {repeat}")
    generic = max((generic_transfer(days[big], sample) for _ in range(repeat)), key=lambda r: r["rows_per_s"])
    log(f"GenericTransfer as on Airflow 2.11 (psycopg2), {sample // 5:,}-row sample, for reference")
    generic_pg2 = generic_transfer(days[big], sample // 5, psycopg2=True)
    log("parse times (airflow dags report)")
    parse_ms = parse_times()

    rss = {str(n): runs[str(n)]["workers_1"]["first_load"]["peak_rss_mb"] for n in (small, big)}
    results.update(
        ours_rows_per_s=round(ours_big["rows_per_s"]),
        ours_reload_rows_per_s=round(reload_big["rows_per_s"]),
        ours_one_worker_rows_per_s=round(runs[str(big)]["workers_1"]["first_load"]["rows_per_s"]),
        raw_rows_per_s=round(raw_plain["rows_per_s"]),
        raw_keyed_rows_per_s=round(raw_keyed["rows_per_s"]),
        raw_keyed_one_stream_rows_per_s=round(raw_keyed_1["rows_per_s"]),
        raw_keyed_two_streams_rows_per_s=round(raw_keyed_2["rows_per_s"]),
        raw_keyed_streams=raw_keyed["streams"],
        raw_target_shape_rows_per_s=round(raw_shape["rows_per_s"]),
        # What the target's own structure allows at best (docs/performance.md): the same COPY into
        # a month partition and call_keys, as a fraction of the keyed copy; ours against it.
        raw_target_shape_fraction_of_raw_keyed=round(raw_shape["rows_per_s"] / raw_keyed["rows_per_s"], 3),
        fraction_of_raw_target_shape=round(ours_big["rows_per_s"] / raw_shape["rows_per_s"], 3),
        reload_fraction_of_raw_target_shape=round(reload_big["rows_per_s"] / raw_shape["rows_per_s"], 3),
        generic_transfer_rows_per_s=round(generic["rows_per_s"]),
        generic_transfer_extrapolated=True,
        generic_transfer_sample_rows=generic["rows"],
        generic_transfer_extrapolated_seconds=round(big / generic["rows_per_s"], 1),
        fraction_of_raw=round(ours_big["rows_per_s"] / raw_plain["rows_per_s"], 3),
        fraction_of_raw_keyed=round(ours_big["rows_per_s"] / raw_keyed["rows_per_s"], 3),
        # A reload (every hour replaced: a clear or a backfill of a loaded day) against the same copy.
        reload_fraction_of_raw_keyed=round(reload_big["rows_per_s"] / raw_keyed["rows_per_s"], 3),
        reload_fraction_of_raw_keyed_by_round=[
            round(r["ours"]["reload"]["rows_per_s"] / r["raw_keyed_faster"]["rows_per_s"], 3) for r in rounds
        ],
        fraction_of_raw_keyed_by_round=[
            round(r["ours"]["first_load"]["rows_per_s"] / r["raw_keyed_faster"]["rows_per_s"], 3) for r in rounds
        ],
        # Within each round (neighbouring measurements): how much the machine's drift moves it.
        fraction_of_raw_by_round=[
            round(r["ours"]["first_load"]["rows_per_s"] / r["raw_plain"]["rows_per_s"], 3) for r in rounds
        ],
        speedup_vs_generic=round(ours_big["rows_per_s"] / generic["rows_per_s"], 1),
        # Reference only: the same operator with the provider on psycopg2, as on Airflow 2.11.
        generic_transfer_psycopg2_rows_per_s=round(generic_pg2["rows_per_s"]),
        speedup_vs_generic_psycopg2=round(ours_big["rows_per_s"] / generic_pg2["rows_per_s"], 1),
        peak_rss_mb={n: round(mb, 1) for n, mb in rss.items()},
        peak_rss_ratio=round(rss[str(big)] / rss[str(small)], 3),
        parse_ms=parse_ms,
        runs=runs,
        raw={"plain": raw_plain, "keyed": raw_keyed_1, "keyed_2_streams": raw_keyed_2, "target_shape_2_streams": raw_shape},
        rounds=rounds,
        generic_transfer=generic,
        generic_transfer_psycopg2=generic_pg2,
        bench_seconds=round(time.monotonic() - started, 1),
    )
    out = results_file(args.quick)
    record(out, results)

    m = results["machine"]
    print(f"\nIVR hourly load benchmark — {big:,} calls/day — {m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}")
    one = runs[str(big)]["workers_1"]
    rows = [
        (f"ours, first load ({workers} hours at a time)", ours_big, ""),
        (f"ours, reload ({workers} hours at a time)", reload_big, ""),
        ("ours, first load (one hour at a time)", one["first_load"], ""),
        ("ours, reload (one hour at a time)", one["reload"], ""),
        ("raw: mariadb | psql \\copy, plain table", raw_plain, ""),
        ("raw: same, table with keys", raw_keyed_1, ""),
        ("raw: same, keys, two streams at once", raw_keyed_2, ""),
        ("raw: same, into the target's shape, two streams", raw_shape, "month partition + call_keys"),
        (f"GenericTransfer ({generic['rows']:,}-row sample)", {"seconds": big / generic["rows_per_s"], "rows_per_s": generic["rows_per_s"]}, "extrapolated"),
        (f"  same on psycopg2, as Airflow 2.11 ({generic_pg2['rows']:,})", {"seconds": big / generic_pg2["rows_per_s"], "rows_per_s": generic_pg2["rows_per_s"]}, "extrapolated, reference"),
    ]
    print(f"{'method':50} {'seconds':>9} {'rows/s':>10}")
    for name, run, note in rows:
        print(f"{name:50} {run['seconds']:9.1f} {run['rows_per_s']:10,.0f} {note}")
    print(f"\nours / raw (plain): {results['fraction_of_raw']:.0%} (by round: "
          f"{', '.join(f'{f:.0%}' for f in results['fraction_of_raw_by_round'])})"
          f"   ours / raw (keyed, {raw_keyed['streams']} stream(s)): {results['fraction_of_raw_keyed']:.0%}"
          f" (reload {results['reload_fraction_of_raw_keyed']:.0%})"
          f"   speed-up vs GenericTransfer: {results['speedup_vs_generic']:.1f}x"
          f" ({results['speedup_vs_generic_psycopg2']:.0f}x its Airflow 2.11 path)")
    print(f"the target's shape allows {results['raw_target_shape_fraction_of_raw_keyed']:.0%} of the keyed copy;"
          f" ours is {results['fraction_of_raw_target_shape']:.0%} of it (reload {results['reload_fraction_of_raw_target_shape']:.0%})")
    print(f"peak RSS of one worker loading the whole day (MB): {results['peak_rss_mb']}  (ratio {results['peak_rss_ratio']:.2f})")
    print(f"DAG parse times (ms): {parse_ms}")
    print(f"written to {out.relative_to(ROOT)} in {results['bench_seconds']:.0f}s")


if __name__ == "__main__":
    main()
