#!/usr/bin/env python
"""`make bench-history`: the IVR load against months of history, and how gently the checks read the IVR.

On a ``--big-day`` source day: the open-calls check and the drift check's MariaDB side, timed
through their real functions, with the rows MariaDB examined and its plan. A ``--calls`` day loaded
into an empty target and into one holding ``--history-days`` days (copies of it), in interleaved
rounds; ``drift.find_drift`` over ``--drift-days`` of them. The targets are databases of their own
(``ivr_bench_empty``, ``ivr_bench_history``); the source days (in 2031) are kept for the next run.
Recorded under ``history`` in bench/results.json (results-quick.json with ``--quick``); the method
is in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from datetime import date, datetime, timedelta

from benchlib import ROOT, fastest, header, log, mariadb, pg, record, results_file
from run_bench import clear_target, ours, ours_round, settle, source_day_rows, write_day

# The day loaded, the last of its month: its own month partition already holds the month's other
# days (a day is loaded into a partition the month's earlier days filled); its history is the days
# just before it.
LOAD_DAY = date(2031, 3, 31)
BIG_DAY = date(2031, 6, 2)  # the big day of the IVR checks, in the source only
TARGETS = {"empty": "ivr_bench_empty", "history": "ivr_bench_history"}
DRIFT_GOAL_S = 60
HISTORY_GOAL = 1.10  # a load into the full target within 10 % of its time into an empty one
WORKERS = 2  # hours loaded at once (the DAG runs two on 2 cores)


def day_base(day: date) -> int:
    """The first call id of ``day`` in the synthetic source (synthetic.day_calls' numbering)."""
    return int(day.strftime("%Y%m%d")) * 10_000_000


# --- the targets ----------------------------------------------------------------------------------

def target_env(name: str) -> None:
    """Point connection analytics_postgres (this process and the load workers it starts) at target ``name``."""
    conn = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES_REAL"])
    os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"] = json.dumps({**conn, "schema": TARGETS[name]})


def create_targets() -> None:
    from callcentre.ivr import schema

    os.environ.setdefault("AIRFLOW_CONN_ANALYTICS_POSTGRES_REAL", os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    for name, db in TARGETS.items():
        subprocess.run([str(ROOT / "scripts" / "services.sh"), "createdb", db], check=True, stdout=subprocess.DEVNULL)
        target_env(name)
        schema.migrate()


def shifted_select(table: str, days: int, from_base: int, to_base: int) -> str:
    """``table``'s rows of one day as the same calls ``days`` days earlier, call ids renumbered;
    the columns read from the catalog, so a new column is copied too."""
    columns = pg("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'analytics' "
                 "AND table_name = %s ORDER BY ordinal_position", (table,), fetch=True)
    exprs = []
    for name, kind in columns:
        if name == "call_id":
            exprs.append(f"call_id - {from_base} + {to_base}")
        elif kind == "date":
            exprs.append(f"{name} - {days}")
        elif kind.startswith("timestamp"):
            exprs.append(f"{name} - interval '{days} days'")
        else:
            exprs.append(name)
    names = ", ".join(n for n, _ in columns)
    return f"INSERT INTO analytics.{table} ({names}) SELECT {', '.join(exprs)} FROM analytics.{table}"


def build_history(day: date, days: int) -> dict:
    """Target ``history``: ``day`` loaded for real, then copied to each of the ``days`` days before it."""
    target_env("history")
    have = pg("SELECT count(*) FILTER (WHERE business_date < %s), count(*) FILTER (WHERE business_date = %s) "
              "FROM analytics.call_keys WHERE business_date BETWEEN %s AND %s",
              (day, day, day - timedelta(days=days), day), fetch=True)[0]
    if have[1] and have[0] == days * have[1] and have[1] == source_day_rows(day):
        log(f"history: {days} days before {day} already in {TARGETS['history']} (kept)")
        return {"built_s": 0.0}
    started = time.monotonic()
    clear_target(day)
    ours(day, WORKERS)
    for table in ("calls", "call_rejects"):
        pg(f"DELETE FROM analytics.{table} WHERE business_date < %s", (day,))
    for k in range(1, days + 1):
        older = day - timedelta(days=k)
        pg("SELECT analytics.ensure_month_partitions(%s)", (older,))
        for table in ("calls", "call_rejects"):
            pg(shifted_select(table, k, day_base(day), day_base(older)) + " WHERE business_date = %s", (day,))
        if k % 10 == 0 or k == days:
            log(f"history: {k}/{days} days copied ({time.monotonic() - started:.0f}s)")
    settle()
    return {"built_s": round(time.monotonic() - started, 1)}


def table_sizes() -> dict:
    rows = pg("SELECT count(*) FROM analytics.call_keys", fetch=True)[0][0]
    size = pg("SELECT pg_size_pretty(pg_database_size(current_database()))", fetch=True)[0][0]
    return {"stored_calls": rows, "database_size": size}


def load_rounds(day: date, repeat: int) -> dict:
    """First load and reload of ``day`` into each target, interleaved, fastest of each kept."""
    target_env("empty")
    for table in ("calls", "call_rejects"):  # an earlier run's other days: the empty target holds none
        pg(f"DELETE FROM analytics.{table} WHERE business_date <> %s", (day,))
    rounds = []
    for i in range(repeat):
        row = {}
        for name in TARGETS:
            target_env(name)
            row[name] = {**ours_round(day, WORKERS), **table_sizes()}
            settle()
        log(f"round {i + 1}/{repeat}: first load empty {row['empty']['first_load']['seconds']:.1f}s, "
            f"with history {row['history']['first_load']['seconds']:.1f}s")
        rounds.append(row)
    best = {name: {kind: fastest([r[name][kind] for r in rounds]) for kind in ("first_load", "reload")}
            for name in TARGETS}
    ratio = {kind: round(best["history"][kind]["seconds"] / best["empty"][kind]["seconds"], 3)
             for kind in ("first_load", "reload")}
    return {"fastest": best, "history_vs_empty": ratio,
            "history_vs_empty_by_round": [{kind: round(r["history"][kind]["seconds"] / r["empty"][kind]["seconds"], 3)
                                           for kind in ("first_load", "reload")} for r in rounds],
            "within_goal": all(v <= HISTORY_GOAL for v in ratio.values()), "goal": HISTORY_GOAL,
            "targets": {name: {k: rounds[-1][name][k] for k in ("stored_calls", "database_size")} for name in TARGETS},
            "rounds": rounds}


# --- the source -----------------------------------------------------------------------------------

def copy_source_day(src: date, dst: date, copies: int, per_copy: int) -> None:
    """Source day ``dst`` := ``copies`` copies of day ``src``'s calls, moved to ``dst``, ids renumbered."""
    from callcentre.ivr import synthetic
    from callcentre.ivr.business_day import day_window
    from callcentre.ivr.source import source_connection

    synthetic.delete_day(dst)
    shift = (dst - src).days
    with source_connection(timeout_s=0) as conn:
        cur = conn.cursor()
        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND table_name = 'calls' ORDER BY ordinal_position")
        columns = cur.fetchall()
        for j in range(copies):
            exprs = [f"call_id - {day_base(src)} + {day_base(dst) + j * per_copy}" if name == "call_id"
                     else f"{name} + INTERVAL {shift} DAY" if kind == "datetime" else name for name, kind in columns]
            cur.execute(f"INSERT INTO calls ({', '.join(n for n, _ in columns)}) SELECT {', '.join(exprs)} FROM calls "
                        "WHERE start_time >= %s AND start_time < %s", day_window(src))
            conn.commit()


def prepare_source(calls: int, big_day_calls: int, drift_days: int) -> None:
    from callcentre.ivr import synthetic

    synthetic.create_source_table()
    fresh = source_day_rows(LOAD_DAY) != calls
    if fresh:
        write_day(LOAD_DAY, calls)
    copies = -(-big_day_calls // calls)
    for day, n in [(LOAD_DAY - timedelta(days=k), 1) for k in range(1, drift_days + 1)] + [(BIG_DAY, copies)]:
        if fresh or source_day_rows(day) != n * calls:
            started = time.monotonic()
            copy_source_day(LOAD_DAY, day, n, calls)
            log(f"source day {day}: {n * calls:,} calls copied in {time.monotonic() - started:.1f}s (not timed)")
    mariadb("ANALYZE TABLE calls")


def handler_reads(conn, run) -> tuple[object, float, dict]:
    """``run(conn)``'s result, seconds, and the rows MariaDB read for it (session Handler_read_*)."""
    def counters() -> dict[str, int]:
        cur = conn.cursor()
        cur.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")  # this session's own counters
        return {k: int(v) for k, v in cur.fetchall()}

    before = counters()
    started = time.monotonic()
    result = run(conn)
    seconds = time.monotonic() - started
    return result, seconds, {k: v - before[k] for k, v in counters().items()}


def plan(conn, sql: str, params) -> dict:
    """``ANALYZE FORMAT=JSON`` of ``sql``: per table read, its access type, index, rows estimated and read."""
    tables = []

    def table(node: dict) -> dict:  # every object of the plan, innermost first
        if "table_name" in node and "access_type" in node:
            tables.append({k: node.get(k) for k in ("table_name", "access_type", "key", "used_key_parts",
                                                     "rows", "r_rows", "using_index", "attached_condition")})
        return node

    cur = conn.cursor()
    cur.execute("ANALYZE FORMAT=JSON " + sql, params)
    tree = json.loads(cur.fetchone()[0], object_hook=table)
    return {"tables": tables, "r_total_time_ms": tree.get("query_block", {}).get("r_total_time_ms")}


def range_rows(conn, start: datetime, end: datetime) -> int:
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM calls WHERE start_time >= %s AND start_time < %s", (start, end))
    return int(cur.fetchone()[0])


def ivr_checks(day: date) -> dict:
    """The open-calls check and the drift check's MariaDB side on ``day``, as the code runs them."""
    from callcentre.ivr import drift, source
    from callcentre.ivr.business_day import day_window

    start, end = day_window(day)
    lower = max(start, end - source.max_call_length())  # the range count_open_calls reads
    with source.source_connection(timeout_s=0) as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM calls")
        table_rows = int(cur.fetchone()[0])
        open_calls, open_s, open_reads = handler_reads(conn, lambda c: source.count_open_calls(c, start, end))
        open_plan = plan(conn, source.OPEN_CALLS_SQL, (lower, end))
        cur.execute(source.ID_RANGE_SQL, (start, end))  # as drift.source_sums does, first
        low, high = cur.fetchone()
        sums_args = (low, high, start, end)
        _, sums_reads_s, sums_reads = handler_reads(conn, lambda c: c.cursor().execute(drift.SOURCE_SUMS_SQL, sums_args))
        sums_plan = plan(conn, drift.SOURCE_SUMS_SQL, sums_args)
        report = {
            "day": day.isoformat(), "table_rows": table_rows, "day_rows": range_rows(conn, start, end),
            "open_calls": {"function": "source.count_open_calls", "range": [str(lower), str(end)],
                           "range_rows": range_rows(conn, lower, end), "open_calls": open_calls,
                           "seconds": round(open_s, 3), "handler_reads": open_reads, "plan": open_plan},
        }
    started = time.monotonic()
    drift.source_sums(day)  # the real function, on a connection of its own
    report["drift_source"] = {"function": "drift.source_sums", "range": [str(start), str(end)],
                              "range_rows": report["day_rows"], "seconds": round(time.monotonic() - started, 3),
                              "handler_reads": sums_reads, "handler_seconds": round(sums_reads_s, 3), "plan": sums_plan}
    for key in ("open_calls", "drift_source"):
        part = report[key]
        tables = part["plan"]["tables"]
        # Rows MariaDB read from calls (ANALYZE's r_rows); the session counters say the same from
        # the function's own run (Handler_read_key also counts the GROUP BY's temporary-table probes).
        part["rows_examined"] = round(sum(t["r_rows"] or 0 for t in tables))
        part["handler_rows_read"] = sum(part["handler_reads"].get(f"Handler_read_{k}", 0)
                                        for k in ("first", "next", "prev", "last", "rnd_next"))
        # By an index: the start_time index (open calls) or the day's slice of the primary key,
        # InnoDB's clustered index (the drift sums read every compared column, so no secondary
        # index can cover them).
        part["keys"] = sorted({str(t["key"]) for t in tables})
        part["reads_by_index"] = bool(tables) and all(t["key"] in ("calls_start_time_idx", "PRIMARY") for t in tables)
        part["index_only"] = bool(tables) and all(t.get("using_index") for t in tables)
        part["examined_vs_range"] = round(part["rows_examined"] / max(part["range_rows"], 1), 3)
    return report


# --- the drift check ------------------------------------------------------------------------------

def drift_check(last_day: date, days: int) -> dict:
    """``drift.find_drift`` over ``days`` loaded days ending with ``last_day`` (target ``history``)."""
    from callcentre.ivr import drift, metrics

    target_env("history")
    for k in range(days):
        metrics.refresh_daily_metrics(last_day - timedelta(days=k), "bench-history")
    started = time.monotonic()
    found = drift.find_drift(last_day, days)
    seconds = time.monotonic() - started
    source_s = 0.0
    for k in range(days):
        t0 = time.monotonic()
        drift.source_sums(last_day - timedelta(days=k))
        source_s += time.monotonic() - t0
    return {"days": days, "last_day": last_day.isoformat(), "seconds": round(seconds, 2),
            "source_side_seconds": round(source_s, 2), "hours_drifted": len(found), "goal_s": DRIFT_GOAL_S,
            "within_goal": seconds < DRIFT_GOAL_S}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, recorded in results-quick.json")
    parser.add_argument("--calls", type=int, help="calls per day of history (default 1,000,000; quick 100,000)")
    parser.add_argument("--history-days", type=int, help="days already in the target (default 60; quick 3)")
    parser.add_argument("--big-day", type=int, help="calls of the IVR-check day (default 10,000,000; quick 500,000)")
    parser.add_argument("--drift-days", type=int, help="days the drift check reads (default 7; quick 3)")
    parser.add_argument("--repeat", type=int, help="rounds of the empty/history loads (default 3; quick 1)")
    args = parser.parse_args()
    q = args.quick
    calls = args.calls or (100_000 if q else 1_000_000)
    history_days = args.history_days or (3 if q else 60)
    big = args.big_day or (500_000 if q else 10_000_000)
    drift_days = min(args.drift_days or (3 if q else 7), history_days)
    repeat = args.repeat or (1 if q else 3)
    started = time.monotonic()
    results = header(q, calls_per_day=calls, history_days=history_days, big_day_calls=big, drift_days=drift_days,
                     repeat=repeat, workers=WORKERS)

    prepare_source(calls, big, drift_days)
    log(f"IVR checks on a {big:,}-call day ({BIG_DAY})")
    results["ivr_checks"] = ivr_checks(BIG_DAY)
    create_targets()
    results["history_build"] = build_history(LOAD_DAY, history_days)
    log(f"loads of a {calls:,}-call day: empty target vs {history_days} days of history, {repeat} round(s)")
    results["load_with_history"] = load_rounds(LOAD_DAY, repeat)
    log(f"drift check over {drift_days} days of {calls:,} calls")
    results["drift_check"] = drift_check(LOAD_DAY - timedelta(days=1), drift_days)
    results["bench_seconds"] = round(time.monotonic() - started, 1)

    out = results_file(q)
    record(out, {"history": results})

    checks, loads, dc = results["ivr_checks"], results["load_with_history"], results["drift_check"]
    print(f"\nIVR checks on {checks['day']} ({checks['day_rows']:,} calls; the table holds {checks['table_rows']:,})")
    print(f"{'check':34} {'seconds':>8} {'range rows':>11} {'examined':>11} {'index':>6} {'index-only':>10}")
    for key, name in (("open_calls", "open calls (count_open_calls)"), ("drift_source", "drift, MariaDB side (source_sums)")):
        c = checks[key]
        print(f"{name:34} {c['seconds']:8.2f} {c['range_rows']:>11,} {c['rows_examined']:>11,} "
              f"{'/'.join(c['keys']) if c['reads_by_index'] else 'NO':>6} {'yes' if c['index_only'] else 'no':>10}")
    print(f"\n{calls:,}-call day, {WORKERS} hours at a time (fastest of {repeat}):")
    for name in TARGETS:
        f = loads["fastest"][name]
        print(f"  into {name:8} ({loads['targets'][name]['stored_calls']:>11,} calls stored): first load "
              f"{f['first_load']['seconds']:6.1f}s, reload {f['reload']['seconds']:6.1f}s")
    print(f"  with history / empty: first load {loads['history_vs_empty']['first_load']:.2f}, reload "
          f"{loads['history_vs_empty']['reload']:.2f} (goal <= {HISTORY_GOAL})")
    print(f"\ndrift check over {drift_days} days: {dc['seconds']:.1f}s (MariaDB side {dc['source_side_seconds']:.1f}s), "
          f"{dc['hours_drifted']} hour(s) drifted (goal < {DRIFT_GOAL_S}s)")
    print(f"written to {out.relative_to(ROOT)} under 'history' in {results['bench_seconds']:.0f}s")


if __name__ == "__main__":
    main()
