#!/usr/bin/env python
"""`make bench-backfill`: a real backfill of 1M-call days under a real scheduler, timed against
the same days' pure hourly loads.

An api-server and a scheduler (LocalExecutor, or the CeleryExecutor with ``--workers`` workers;
no scheduled run competes), warmed up by the backfill of an empty day, then in interleaved rounds
the days' 24 hourly loads as `make bench` runs them (no Airflow) and `airflow backfill create` of
the same days: wall time, their ratio, and the CPU of Airflow's processes by part and of the
database servers. Recorded under ``backfill`` / ``backfill_*`` in bench/results.json.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from benchlib import ROOT, TICKS, all_pids, cpu_snapshot, log, proc_stat, record, results_file, server_pids
from run_bench import clear_target, ours, source_day_rows, write_day

from callcentre.devtools.airflow_processes import (
    AIRFLOW,
    celery_env,
    free_port,
    process_group,
    run_airflow,
    settle_backfills,
    start_celery_worker,
    stop_group,
)

FIRST_DAY = date(2018, 6, 1)  # in the past (backfills refuse future dates), used by nothing else
ROUNDS = 2
# An empty day backfilled once before the clocks start: the api-server's and the scheduler's
# first-use costs (the api-server builds its versioned routes on the first requests, ≈ 1 CPU-s)
# are paid once per process, not per run, and would otherwise be charged to the first round.
WARM_UP_DAY = FIRST_DAY - timedelta(days=1)


def bench_env(**overrides: str) -> dict:
    """This machine's Airflow settings, the api-server on a free port, and no scheduled run of any
    DAG (only the backfill being timed runs)."""
    port = free_port()
    return dict(os.environ, AIRFLOW__API__PORT=str(port), AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
                AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False", **overrides)


@contextmanager
def components(env: dict, logs: Path, tag: str = "", active_runs: int = 2, celery_workers: int = 0):
    """The DAGs serialized, an api-server, a scheduler and ``celery_workers`` in process groups of
    their own, ivr_calls_daily unpaused and warmed up; yields their process groups for
    :func:`backfill`. On the way out the DAG's backfills are settled and it is paused again."""
    run_airflow(env, "dags", "reserialize")
    api_args = [AIRFLOW, "api-server", "--port", env["AIRFLOW__API__PORT"], "--host", "127.0.0.1", "--workers", "1"]
    with process_group(api_args, env, logs / f"api{tag}.log") as api, \
         process_group([AIRFLOW, "scheduler"], env, logs / f"scheduler{tag}.log") as scheduler:
        run_airflow(env, "dags", "unpause", "ivr_calls_daily")
        workers = [start_celery_worker(f"bench{i}", env, logs, concurrency=4) for i in range(1, celery_workers + 1)]
        procs = (api.pid, scheduler.pid, {w.pid for w in workers})
        try:
            time.sleep(20)  # every component up and idle before the first clock starts
            log(f"warm-up: backfill of the empty day {WARM_UP_DAY}")
            backfill(env, [WARM_UP_DAY], procs, active_runs)
            yield procs
        finally:
            for worker in workers:
                stop_group(worker)
            settle_backfills(env, "ivr_calls_daily", timeout_s=120)
            run_airflow(env, "dags", "pause", "ivr_calls_daily")


def cpu_by_part(api_pgid: int, scheduler_pgid: int, other_pgids: set[int]) -> dict[str, float]:
    """Cumulative CPU seconds of Airflow's processes, by part: the api-server (all its processes),
    the scheduler (its loop, serve-logs, the executor's forkserver), the LocalExecutor workers as
    task supervisors (their own CPU), the task processes they fork (reaped by the workers, or still
    running) and Celery workers (whole groups)."""
    parts = dict.fromkeys(("api_server", "scheduler", "supervisors", "tasks", "celery_workers"), 0.0)
    procs = []
    for pid in all_pids():
        try:
            procs.append((pid, proc_stat(pid), Path(f"/proc/{pid}/cmdline").read_bytes()))
        except OSError:
            continue
    supervisors = {pid for pid, fields, title in procs if int(fields[2]) == scheduler_pgid and b"LocalExecutor" in title}
    for pid, fields, title in procs:
        own, reaped = (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS
        pgid = int(fields[2])
        if pgid == api_pgid:
            parts["api_server"] += own + reaped
        elif pgid in other_pgids:
            parts["celery_workers"] += own + reaped
        elif int(fields[1]) in supervisors:
            parts["tasks"] += own + reaped  # a running task process (each has a group of its own)
        elif pid in supervisors:
            parts["supervisors"] += own
            parts["tasks"] += reaped
        elif pgid == scheduler_pgid:
            parts["scheduler"] += own + reaped
    return parts


def diff(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before.get(k, 0.0), 2) for k in after}


RUNS_SQL = """
SELECT (dr.logical_date AT TIME ZONE 'UTC')::date, dr.state, count(ti.task_id)
FROM dag_run dr LEFT JOIN task_instance ti ON ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id
    AND ti.state IS DISTINCT FROM 'removed'  -- a task the DAG no longer has, kept by Airflow
WHERE dr.dag_id = 'ivr_calls_daily' AND dr.run_type = 'backfill' AND (dr.logical_date AT TIME ZONE 'UTC')::date = ANY(%s)
GROUP BY 1, 2
"""


def backfill_runs(days: list[date]) -> list[tuple[str, int]]:
    """The state and task instance count of the days' backfill runs, from the metadata database
    (an `airflow` CLI call per poll would cost CPU-seconds and slow the backfill it watches)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                         dbname=url.database) as conn:
        rows = conn.execute(RUNS_SQL, (days,)).fetchall()
    runs = {day: (state, tis) for day, state, tis in rows}
    return [runs[d] for d in days if d in runs]


def pure_loads(days: list[date], workers: int) -> dict:
    """The days' hourly loads without Airflow, from empty partitions: seconds and client CPU."""
    seconds = cpu = 0.0
    servers = dict.fromkeys(("mariadb", "postgresql"), 0.0)
    for day in days:
        clear_target(day)
        servers_before = cpu_snapshot(*server_pids())
        loaded = ours(day, workers)
        used = diff(cpu_snapshot(*server_pids()), servers_before)
        seconds, cpu = seconds + loaded["seconds"], cpu + loaded["client_cpu_s"]
        servers = {side: servers[side] + used[side] for side in servers}
    return {"seconds": round(seconds, 2), "client_cpu_s": round(cpu, 2),
            "mariadb_cpu_s": round(servers["mariadb"], 2), "postgresql_cpu_s": round(servers["postgresql"], 2)}


def backfill(env: dict, days: list[date], procs: tuple, active_runs: int) -> dict:
    """The days backfilled, waited for: wall seconds, CPU of Airflow's ``procs`` by part (see
    :func:`cpu_by_part`) and of the database servers."""
    for day in days:
        clear_target(day)
    mariadb, postmaster = server_pids()
    settle_backfills(env, "ivr_calls_daily", timeout_s=120)  # Airflow allows one backfill per DAG at a time
    airflow_before, servers_before = cpu_by_part(*procs), cpu_snapshot(mariadb, postmaster)
    started = time.monotonic()
    # min_calls 0: the warm-up day and `--calls 0` days are empty on purpose (a run would otherwise
    # fail reconcile and retry, as it should for a real day).
    run_airflow(env, "backfill", "create", "--dag-id", "ivr_calls_daily", "--from-date", days[0].isoformat(),
                "--to-date", days[-1].isoformat(), "--reprocess-behavior", "completed", "--max-active-runs", str(active_runs),
                "--dag-run-conf", '{"min_calls": 0}')
    while True:
        runs = backfill_runs(days)
        states = [state for state, _ in runs]
        if len(states) == len(days) and all(s in ("success", "failed") for s in states):
            break
        if time.monotonic() - started > 1800:
            raise SystemExit(f"backfill not finished after 30 min: {states}")
        time.sleep(1)
    wall = time.monotonic() - started
    parts = diff(cpu_by_part(*procs), airflow_before)
    servers = diff(cpu_snapshot(mariadb, postmaster), servers_before)
    return {"seconds": round(wall, 2), "states": states, "task_instances": sum(tis for _, tis in runs), "airflow_cpu_s": round(sum(parts.values()), 2),
            "airflow_cpu_by_part": parts, "mariadb_cpu_s": servers["mariadb"], "postgresql_cpu_s": servers["postgresql"]}


def record_backfill(results: dict, calls: int, executor: str, active_runs: int) -> None:
    """1M-call LocalExecutor figures with two active runs under ``backfill`` and their three goals'
    figures at the top level; others under a key of their own."""
    key = ("backfill" if (calls, executor, active_runs) == (1_000_000, "local", 2) else
           f"backfill_{calls}_calls_{executor}" + (f"_{active_runs}_runs" if active_runs != 2 else ""))
    entries = {key: results}
    if key == "backfill":
        entries.update({k: results[k] for k in ("backfill_s_per_day", "airflow_cpu_s_per_run", "backfill_vs_load")})
    record(results_file(), entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--executor", choices=("local", "celery"), default="local")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (with --executor celery)")
    parser.add_argument("--max-active-runs", type=int, default=2, help="days loaded at a time by the backfill")
    args = parser.parse_args()

    from callcentre.ivr import schema, synthetic

    days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
    synthetic.create_source_table()
    schema.migrate()
    synthetic.delete_day(WARM_UP_DAY)
    for day in days:
        if source_day_rows(day) != args.calls:  # else written by an earlier run (same seed)
            write_day(day, args.calls)  # --calls 0: empty days, what Airflow itself costs per run

    tmp = ROOT / ".local" / "bench-backfill"
    tmp.mkdir(parents=True, exist_ok=True)
    env = bench_env()
    if args.executor == "celery":
        env = celery_env(env, broker_db=2)
    rounds = []
    celery_workers = args.workers if args.executor == "celery" else 0
    with components(env, tmp, active_runs=args.max_active_runs, celery_workers=celery_workers) as procs:
        for i in range(ROUNDS):
            # Alternate the order so that neither side always runs in the same drift window.
            order = ("loads", "backfill") if i % 2 == 0 else ("backfill", "loads")
            this: dict = {}
            for side in order:
                log(f"round {i + 1}/{ROUNDS}: {side}")
                this[side] = pure_loads(days, 2) if side == "loads" else backfill(env, days, procs, args.max_active_runs)
            this["backfill_vs_load"] = round(this["backfill"]["seconds"] / this["loads"]["seconds"], 2)
            log(f"round {i + 1}: backfill {this['backfill']['seconds']} s, loads {this['loads']['seconds']} s, "
                f"ratio {this['backfill_vs_load']}, Airflow CPU {this['backfill']['airflow_cpu_by_part']}")
            rounds.append(this)

    n = len(days)
    best = min(rounds, key=lambda r: r["backfill_vs_load"])
    bf = best["backfill"]
    # Airflow's own CPU per run: its processes' CPU less the client work of the same loads.
    own = [(r["backfill"]["airflow_cpu_s"] - r["loads"]["client_cpu_s"]) / n for r in rounds]
    results = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "days": n, "calls_per_day": args.calls, "executor": args.executor, "max_active_runs": args.max_active_runs,
        "backfill_s_per_day": round(bf["seconds"] / n, 2),
        "load_s_per_day": round(best["loads"]["seconds"] / n, 2),
        "backfill_vs_load": best["backfill_vs_load"],
        "backfill_vs_load_by_round": [r["backfill_vs_load"] for r in rounds],
        "airflow_cpu_s_per_run": round(min(own), 2),
        "airflow_cpu_s_per_run_by_round": [round(x, 2) for x in own],
        "airflow_cpu_s_per_run_with_task_work": round(bf["airflow_cpu_s"] / n, 2),
        "airflow_cpu_by_part_per_run": {k: round(v / n, 2) for k, v in bf["airflow_cpu_by_part"].items()},
        "task_instances_per_run": bf["task_instances"] / n,
        "cpu_s_per_task_instance": round(min(own) * n / bf["task_instances"], 3),
        "rounds": rounds,
    }
    executor = f"CeleryExecutor, {args.workers} workers" if args.executor == "celery" else "LocalExecutor"
    print(f"\nBackfill of {n} days x {args.calls:,} calls, {executor}, --max-active-runs {args.max_active_runs}, {os.cpu_count()} cores, "
          f"best of {len(rounds)} rounds: runs {bf['states']}")
    print(f"  backfill wall   {bf['seconds']:7.1f} s   ({results['backfill_s_per_day']} s per day)")
    print(f"  pure loads      {best['loads']['seconds']:7.1f} s   ({results['load_s_per_day']} s per day)")
    print(f"  backfill/loads  {results['backfill_vs_load']:7.2f}     (by round {results['backfill_vs_load_by_round']})")
    print(f"  Airflow CPU     {results['airflow_cpu_s_per_run']:7.2f} s per run, less the loads' client work "
          f"(by round {results['airflow_cpu_s_per_run_by_round']}); with it {results['airflow_cpu_s_per_run_with_task_work']}")
    print(f"  by part per run {results['airflow_cpu_by_part_per_run']}")
    print(f"  mariadb         {bf['mariadb_cpu_s'] / n:7.1f} s per day;  postgresql {bf['postgresql_cpu_s'] / n:.1f} s per day "
          f"(pure loads: {best['loads'].get('postgresql_cpu_s', 0) / n:.1f}; the rest is Airflow's metadata DB)")
    record_backfill(results, args.calls, args.executor, args.max_active_runs)


if __name__ == "__main__":
    main()
