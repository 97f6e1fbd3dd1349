#!/usr/bin/env python
"""A/B of this checkout against another commit on the backfill, in one run (docs/performance.md).

    . .local/airflow.env && .venv/bin/python bench/ab_backfill.py REV [--rounds 2] [--key NAME]

Per variant (REV in a git worktree under .local/ab/, and this checkout) and round, interleaved
A B B A: its DAGs, include/ and plugins/, a fresh api-server and scheduler, then a backfill of the
two 1M-call days `make bench-backfill` wrote; ``--key`` records the figures in bench/results.json.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import backfill_timing as bt
from benchlib import ROOT, record, results_file


def measure(src: Path, name: str, days: list) -> dict:
    env = bt.bench_env(PYTHONPATH=f"{src}/include:{src}/plugins", AIRFLOW__CORE__DAGS_FOLDER=f"{src}/dags",
                       AIRFLOW__CORE__PLUGINS_FOLDER=f"{src}/plugins")
    logs = ROOT / ".local" / "ab" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with bt.components(env, logs, f"-{name}") as procs:
        result = bt.backfill(env, days, procs, 2)
    return {"seconds": result["seconds"], "airflow_cpu_s_per_run": round(result["airflow_cpu_s"] / len(days), 2),
            "airflow_cpu_by_part": result["airflow_cpu_by_part"], "task_instances": result["task_instances"],
            "postgresql_cpu_s": result["postgresql_cpu_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the commit to compare this checkout with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--key", help="record under this key of bench/results.json")
    args = parser.parse_args()

    other = ROOT / ".local" / "ab" / args.rev
    if not other.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.rev], check=True)
    variants = {f"A {args.rev}": other, "B this checkout": ROOT}
    days = [bt.FIRST_DAY, bt.FIRST_DAY + timedelta(days=1)]
    runs: dict[str, list] = {name: [] for name in variants}
    for i in range(args.rounds):
        for name in (list(variants) if i % 2 == 0 else list(reversed(variants))):
            runs[name].append(measure(variants[name], name.split()[0], days))
            print(name, runs[name][-1], flush=True)
    for name, results in runs.items():
        print(f"{name:20} wall {[r['seconds'] for r in results]} s, Airflow CPU per run "
              f"{[r['airflow_cpu_s_per_run'] for r in results]} s, task instances {results[0]['task_instances']}")
    if args.key:
        record(results_file(), {args.key: {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "days": len(days), "runs": runs}})


if __name__ == "__main__":
    main()
