#!/usr/bin/env python
"""`make profile`: where one day's hourly loads spend their time (profile before optimising).

Loads the benchmark's day (1,000,000 calls; `--rows 100000` for the smaller one) one hour after
the other in this process, exactly as the load_hour tasks run, first from an empty partition,
then again (a reload: every row replaced), and reports for each:

1. CPU seconds used by each side during the load: the MariaDB server, PostgreSQL (every server
   process: backends, autovacuum, checkpointer, WAL writer) and this Python process, read from
   /proc before and after (the local servers of `make services`), and that of the loads' own
   PostgreSQL backends, split into stage and replace (what other clients of the server cannot
   inflate: the figure to compare A/B on a shared machine);
2. wall seconds per load phase summed over the 24 hours (HourResult.phases: stage = read
   MariaDB + COPY into the temp stage, validate, delete, keys, insert, commit);
3. a pyinstrument profile of the Python side, both written to bench/profile.txt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench  # noqa: E402  (the benchmark's days and helpers)

ROOT = run_bench.ROOT
TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): 0 state, 1 ppid, 2 pgrp,
    11-12 utime and stime, 13-14 those of reaped children."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    fields = proc_stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _children(parent: int) -> list[int]:
    pids = []
    for pid in all_pids():
        try:
            if int(proc_stat(pid)[1]) == parent:
                pids.append(pid)
        except OSError:
            continue
    return pids


def server_pids() -> tuple[int, int]:
    local = (ROOT / ".local").resolve()
    mariadb = int((local / "mariadb" / "run" / "mysqld.pid").resolve().read_text().split()[0])
    postmaster = int((local / "postgres" / "data" / "postmaster.pid").resolve().read_text().split()[0])
    return mariadb, postmaster


def cpu_snapshot(mariadb: int, postmaster: int) -> dict[str, float]:
    """Cumulative CPU seconds: MariaDB (all threads), PostgreSQL (postmaster, reaped and live
    children), this process."""
    pg = cpu_seconds(postmaster, reaped_children=True)
    for child in _children(postmaster):
        try:
            pg += cpu_seconds(child)
        except OSError:
            continue
    own = os.times()
    return {"mariadb": cpu_seconds(mariadb), "postgresql": pg, "python": own.user + own.system}


def load_hour_measured(day, hour: int, tz_name: str):
    """One hour exactly as load_hour runs it (HourLoad's phases in order), and the CPU its own
    PostgreSQL backend spent staging (COPY, counts) and replacing: a figure the server's other
    clients cannot inflate, unlike the server-wide one (other sessions' tests on a shared machine)."""
    from callcentre.ivr.load import HourLoad

    attempt = HourLoad(day, hour, tz_name=tz_name, run_id="profile")
    try:
        attempt.begin()
        backend = attempt.pg.info.backend_pid
        started = cpu_seconds(backend)
        attempt.stage()
        staged = cpu_seconds(backend)
        attempt.replace()
        replaced = cpu_seconds(backend)
    finally:
        attempt.close()
    return attempt.result, {"stage": staged - started, "replace": replaced - staged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, choices=sorted(run_bench.DAYS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "profile.txt",
                        help="where the pyinstrument profiles go (an A/B run keeps the recorded one)")
    args = parser.parse_args()

    import logging

    from pyinstrument import Profiler

    from callcentre.ivr.runtime import timezone_name
    from callcentre.ivr.source import count_by_hour, source_connection

    logging.disable(logging.INFO)
    day = run_bench.DAYS[args.rows]
    with source_connection() as conn:
        if sum(count_by_hour(conn, day).values()) != args.rows:
            run_bench.prepare_source((args.rows,))
    run_bench.clear_target(day)
    tz_name = timezone_name()
    mariadb, postmaster = server_pids()

    out = args.out.resolve()
    texts = []
    # The first load of the day (empty partitions), then its reload (every row replaced).
    for label in ("First load", "Reload"):
        if label == "Reload":
            run_bench.settle()
        before = cpu_snapshot(mariadb, postmaster)
        started = time.monotonic()
        profiler = Profiler(interval=0.001)
        with profiler:
            measured = [load_hour_measured(day, hour, tz_name) for hour in range(24)]
        results = [result for result, _ in measured]
        wall = time.monotonic() - started
        after = cpu_snapshot(mariadb, postmaster)
        texts.append(f"{label}\n" + profiler.output_text(unicode=False, color=False))

        rows = sum(r.rows_read for r in results)
        phases: Counter = Counter()
        for r in results:
            phases.update(r.phases)
        print(f"\n{label} of {day}: {rows:,} rows in {wall:.1f}s ({rows / wall:,.0f} rows/s), one hour at a time")
        print("CPU seconds during it (2 cores would give 2 x wall at most):")
        for side in ("mariadb", "postgresql", "python"):
            print(f"  {side:12} {after[side] - before[side]:6.2f}")
        backend = Counter()
        for _, seconds in measured:
            backend.update(seconds)
        print("CPU seconds of the loads' own PostgreSQL backends (other clients of the server left out):")
        for step, seconds in backend.items():
            print(f"  {step:12} {seconds:6.2f}")
        print("Wall seconds per phase, summed over the 24 hours:")
        for name, seconds in phases.most_common():
            print(f"  {name:12} {seconds:6.2f}")
    out.write_text("\n\n".join(texts))
    print(f"\npyinstrument profile of the Python side: {out}")


if __name__ == "__main__":
    main()
