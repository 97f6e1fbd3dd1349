#!/usr/bin/env python
"""`make bench-backfill`: a real backfill of 1M-call days under a real scheduler, timed.

Checks the README's 30-day backfill plan against a measured run: writes DAYS synthetic days of
CALLS calls each to the source, starts `airflow api-server` and `airflow scheduler`
(LocalExecutor) in their own process groups, runs `airflow backfill create ... --max-active-runs
2 --reprocess-behavior completed` over those days, waits for every run, and reports the wall
time and the CPU used by Airflow (both process groups, tasks included), MariaDB and PostgreSQL.
`--executor celery --workers N` (`make bench-backfill EXECUTOR=celery WORKERS=2`) runs the same
backfill through the CeleryExecutor: N `airflow celery worker` processes (concurrency 4 each),
Redis as the broker; their CPU counts as Airflow's. The difference is the cost of the broker.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from profile_load import all_pids, cpu_seconds, cpu_snapshot, proc_stat, server_pids  # noqa: E402
from tests.e2e.airflow_processes import (  # noqa: E402
    AIRFLOW,
    celery_env,
    free_port,
    process_group,
    run_airflow,
    run_states,
    start_celery_worker,
    stop_group,
)

FIRST_DAY = date(2018, 6, 1)  # in the past (backfills refuse future dates), used by nothing else


def group_cpu(pgids: set[int]) -> float:
    """CPU seconds of every live process in these process groups, with their reaped children."""
    total = 0.0
    for pid in all_pids():
        try:
            if int(proc_stat(pid)[2]) in pgids:
                total += cpu_seconds(pid, reaped_children=True)
        except OSError:
            continue
    return total


def backfill_states(env: dict, days: list[date]) -> list[str]:
    states = run_states(env, "ivr_calls_daily", "backfill")
    return [states[d.isoformat()] for d in days if d.isoformat() in states]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--executor", choices=("local", "celery"), default="local")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (with --executor celery)")
    args = parser.parse_args()

    from callcentre.ivr import schema, synthetic
    from run_bench import clear_target, log

    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    synthetic.create_source_table()
    schema.migrate()
    for day in days:
        synthetic.delete_day(day)
        if args.calls:  # --calls 0: empty days, what Airflow itself costs per run
            synthetic.write_calls(synthetic.day_calls(day, args.calls, seed=2030))
        clear_target(day)
        log(f"source day {day}: {args.calls:,} calls (target emptied)")

    tmp = ROOT / ".local" / "bench-backfill"
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}")
    if args.executor == "celery":
        env = celery_env(env, broker_db=2)
    run_airflow(env, "dags", "reserialize")
    mariadb, postmaster = server_pids()
    api_args = [AIRFLOW, "api-server", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"]
    with process_group(api_args, env, tmp / "api.log") as api, \
         process_group([AIRFLOW, "scheduler"], env, tmp / "scheduler.log") as scheduler:
        workers = [start_celery_worker(f"bench{i}", env, tmp, concurrency=4)
                   for i in range(1, args.workers + 1)] if args.executor == "celery" else []
        run_airflow(env, "dags", "unpause", "ivr_calls_daily")
        try:
            time.sleep(20)  # every component up and idle before the clock starts
            groups = {api.pid, scheduler.pid, *(w.pid for w in workers)}
            airflow_before, servers_before = group_cpu(groups), cpu_snapshot(mariadb, postmaster)
            started = time.monotonic()
            run_airflow(env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", days[0].isoformat(),
                        "--to-date", days[-1].isoformat(), "--reprocess-behavior", "completed", "--max-active-runs", "2")
            while True:
                states = backfill_states(env, days)
                if len(states) == len(days) and all(s in ("success", "failed") for s in states):
                    break
                if time.monotonic() - started > 1800:
                    raise SystemExit(f"backfill not finished after 30 min: {states}; logs in {tmp}")
                time.sleep(2)
            wall = time.monotonic() - started
            airflow_cpu = group_cpu(groups) - airflow_before
            servers_after = cpu_snapshot(mariadb, postmaster)
        finally:
            run_airflow(env, "dags", "pause", "ivr_calls_daily")
            time.sleep(35)  # the scheduler marks a backfill complete every 30 s; the next one needs that
            for worker in workers:
                stop_group(worker)

    n = len(days)
    executor = f"CeleryExecutor, {args.workers} workers" if args.executor == "celery" else "LocalExecutor"
    print(f"\nBackfill of {n} days x {args.calls:,} calls, {executor}, --max-active-runs 2, {os.cpu_count()} cores: runs {states}")
    print(f"  wall            {wall:7.1f} s   ({wall / n:.1f} s per day)")
    print(f"  Airflow CPU     {airflow_cpu:7.1f} s   ({airflow_cpu / n:.1f} per day, {airflow_cpu / (n * 30):.2f} per task instance, its work included)")
    for side in ("mariadb", "postgresql"):
        used = servers_after[side] - servers_before[side]
        print(f"  {side:15} {used:7.1f} s   ({used / n:.1f} per day)")


if __name__ == "__main__":
    main()
