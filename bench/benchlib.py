"""What the bench scripts share: the log line, SQL on a PostgreSQL connection, the machine and
database settings every figure is recorded with, the results files, CPU seconds from /proc."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pg(sql: str, params=None, fetch: bool = False, conn_id: str = "analytics_postgres"):
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if fetch else None


def mariadb(sql: str, params=None) -> list[tuple]:
    from callcentre.ivr.source import source_connection

    with source_connection() as conn:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()


def vacuum(conn_id: str, *tables: str) -> None:
    """VACUUM ANALYZE ``tables``: what autovacuum does to a real table (statistics, visibility map)."""
    from callcentre.common.pg import postgres_conn

    conn = postgres_conn(conn_id)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for table in tables:
                cur.execute(f"VACUUM ANALYZE {table}")
    finally:
        conn.close()


def fastest(tries: list[dict]) -> dict:
    return min(tries, key=lambda r: r["seconds"])


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import airflow

    return {"cores": os.cpu_count(), "memory_gb": round(int(meminfo[1]) / 1024 / 1024, 1), "cpu": cpu,
            "python": platform.python_version(), "airflow": airflow.__version__}


def database_settings() -> dict:
    """The settings every write-heavy figure depends on, read from the servers measured."""
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "work_mem")
    return {"postgresql": {name: pg(f"SHOW {name}", fetch=True)[0][0] for name in names},
            "mariadb": dict(mariadb("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', "
                                    "'innodb_flush_log_at_trx_commit', 'innodb_buffer_pool_size', 'sync_binlog', 'log_bin')"))}


def header(quick: bool, **sizes) -> dict:
    """The start of a run's record: when, its sizes, the machine and the databases' settings."""
    return {"date": datetime.now().isoformat(timespec="seconds"), "quick": quick, **sizes, "machine": machine(),
            "database_settings": database_settings()}


def results_file(quick: bool = False) -> Path:
    return ROOT / "bench" / ("results-quick.json" if quick else "results.json")


def record(out: Path, entries: dict) -> None:
    """Merge ``entries`` into the JSON file ``out``: the other benches' keys stay."""
    data = json.loads(out.read_text()) if out.exists() else {}
    data.update(entries)
    out.write_text(json.dumps(data, indent=2, default=str) + "\n")


# --- CPU seconds from /proc -------------------------------------------------------------------------

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


def server_pids() -> tuple[int, int]:
    """MariaDB's and PostgreSQL's postmaster of `make services`."""
    local = (ROOT / ".local").resolve()
    mariadb = int((local / "mariadb" / "run" / "mysqld.pid").resolve().read_text().split()[0])
    postmaster = int((local / "postgres" / "data" / "postmaster.pid").resolve().read_text().split()[0])
    return mariadb, postmaster


def cpu_snapshot(mariadb: int, postmaster: int) -> dict[str, float]:
    """Cumulative CPU seconds: MariaDB (all threads), PostgreSQL (postmaster, reaped and live
    children), this process."""
    pg_cpu = cpu_seconds(postmaster, reaped_children=True)
    for pid in all_pids():
        try:
            if int(proc_stat(pid)[1]) == postmaster:
                pg_cpu += cpu_seconds(pid)
        except OSError:
            continue
    own = os.times()
    return {"mariadb": cpu_seconds(mariadb), "postgresql": pg_cpu, "python": own.user + own.system}
