#!/usr/bin/env python
"""`make profile`: where one day's hourly loads spend their time (profile before optimising).

Loads the benchmark's day one hour after the other in this process, as the load_hour tasks run,
first from an empty partition, then again (a reload); for each: CPU seconds of MariaDB, PostgreSQL
and this process, and of the loads' own PostgreSQL backends by step (what other clients cannot
inflate: the figure to compare A/B on a shared machine); wall seconds per phase; a pyinstrument
profile of the Python side (bench/profile.txt).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import run_bench
from benchlib import ROOT, cpu_seconds, cpu_snapshot, server_pids


def load_hour_measured(day, hour: int, tz_name: str):
    """One hour as load_hour runs it (HourLoad's phases in order), and the CPU its own PostgreSQL
    backend spent staging (COPY, counts) and replacing."""
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
    args = parser.parse_args()

    import logging

    from pyinstrument import Profiler

    from callcentre.ivr.runtime import timezone_name

    logging.disable(logging.INFO)
    day = run_bench.DAYS[args.rows]
    if run_bench.source_day_rows(day) != args.rows:
        run_bench.prepare_source((args.rows,))
    run_bench.clear_target(day)
    tz_name = timezone_name()
    mariadb, postmaster = server_pids()

    out = ROOT / "bench" / "profile.txt"
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
