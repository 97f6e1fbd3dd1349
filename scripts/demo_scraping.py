#!/usr/bin/env python
"""Demo of the scraping pipeline on the local services (run with .local/airflow.env sourced).

1. a workbook of 600 numbers (plus duplicates and junk rows) through DAG scraping_upload -> job
   `completed`, results workbook written;
2. a file that is not a workbook -> job `failed` at once, one Slack message to the local stand-in;
3. the reconcile DAG runs once, then the jobs report.

Runs go through ``dag.test()`` (no scheduler); Airflow's log lines go to
``$AIRFLOW_HOME/demo-logs/scraping-demo.log``, the console holds the demo's. Non-zero exit on a problem.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SCRAPING_POKE_SECONDS", "1")  # demo pace; production polls every 30 s
os.environ.setdefault("SCRAPING_RETRY_DELAY_SECONDS", "2")
ROOT = Path(__file__).resolve().parents[1]
LOG = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".local")) / "demo-logs" / "scraping-demo.log"
_console = sys.stdout


def say(line: str) -> None:
    """A line of the demo itself: always on the console, whatever Airflow does with fds 1 and 2."""
    print(line, file=_console, flush=True)


@contextlib.contextmanager
def output_to_log(path: Path):
    """Send everything written to fds 1 and 2 (Airflow's structlog, task logs, warnings) to ``path``;
    the demo's own lines go to a copy of the console kept aside."""
    global _console
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    _console = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    with path.open("a") as log:
        for fd in saved:
            os.dup2(log.fileno(), fd)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            _console.close()
            _console = sys.stdout


def ensure_reference_api() -> str:
    """Use the API of `make services`; start one in this process if it is not running."""
    import requests

    conn = json.loads(os.environ["AIRFLOW_CONN_SCRAPING_API"])
    base = f"{conn.get('schema', 'http')}://{conn['host']}:{conn['port']}"
    try:
        requests.get(base + "/health", timeout=2).raise_for_status()
        return f"reference API at {base}"
    except requests.RequestException:
        from callcentre.fakes._server import serve_in_thread
        from callcentre.fakes.scraping_api_server import ScrapingApiServer

        serve_in_thread(ScrapingApiServer((conn["host"], int(conn["port"]))))
        return f"reference API started in-process at {base}"


def demo_workbook(path: Path) -> int:
    from openpyxl import Workbook

    numbers = [f"3{n:09d}" for n in random.sample(range(10**9), 600)]
    wb = Workbook()
    ws = wb.active
    ws.append(["Nombre", "Teléfono", "Ciudad"])
    for i, number in enumerate(numbers):
        written = f"({number[:3]}) {number[3:6]}-{number[6:]}" if i % 3 else int(number)
        ws.append([f"Cliente {i}", written, "Bogotá"])
    ws.append(["Repetido", numbers[0], "Cali"])
    ws.append(["Sin número", "llamar después", "Cali"])
    ws.append(["Fórmula", "@SUM(A1)", "Cali"])  # rejected, and written back as text, never a formula
    wb.save(path)
    return len(numbers)


def main() -> int:
    from airflow.dag_processing.dagbag import DagBag

    from callcentre.common.variables import get_variable
    from callcentre.scraping.jobs import JobRepository
    from callcentre.scraping.retry import build_report, format_report
    from callcentre.scraping.upload import store_upload

    problems = []
    say(f"[scraping demo] {ensure_reference_api()}  (Airflow's log: {LOG})")
    bag = DagBag(str(ROOT / "dags"))
    upload_dag, reconcile_dag = bag.get_dag("scraping_upload"), bag.get_dag("scraping_jobs_reconcile")
    if upload_dag is None or reconcile_dag is None:
        say(f"[scraping demo] DAGs did not parse: {bag.import_errors}")
        return 1
    uploads = get_variable("scraping_uploads_dir")
    repo = JobRepository()
    slack_record = Path(os.environ.get("CALLCENTRE_FAKE_SLACK_RECORD", "/nonexistent"))
    slack_before = len(slack_record.read_text().splitlines()) if slack_record.exists() else 0

    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "clientes_demo.xlsx"
        expected = demo_workbook(good)
        stored = store_upload(good, uploads)
        run = upload_dag.test(run_conf={"file": stored.relative_path, "uploader": "demo", "batch_size": 250})
        job = repo.by_run("scraping_upload", run.run_id)
        say(
            f"[scraping demo] upload of {good.name}: run {run.state}, job #{job['id']} {job['status']}, "
            f"{job['processed_numbers']}/{job['total_numbers']} numbers looked up, {job['rejected_rows']} rows "
            f"rejected -> {job['results_file']}"
        )
        if job["status"] != "completed" or job["processed_numbers"] != expected:
            problems.append(f"good upload ended {job['status']} with {job['processed_numbers']} numbers")

        bad = Path(tmp) / "no_es_excel.xlsx"
        bad.write_text(f"telefono\n3001234567\n{random.random()}\n")
        run = upload_dag.test(
            run_conf={"file": store_upload(bad, uploads).relative_path, "uploader": "demo", "batch_size": None}
        )
        job = repo.by_run("scraping_upload", run.run_id)
        say(f"[scraping demo] upload of {bad.name}: run {run.state}, job #{job['id']} {job['status']}: {job['last_error']}")
        if job["status"] != "failed" or job["retry_count"] != 0:
            problems.append(f"bad upload ended {job['status']} after {job['retry_count']} retries")

    slack_after = len(slack_record.read_text().splitlines()) if slack_record.exists() else 0
    say(f"[scraping demo] Slack stand-in received {slack_after - slack_before} alert(s)")
    if slack_record.exists() and slack_after - slack_before < 1:
        problems.append("no Slack alert for the failed job")

    run = reconcile_dag.test()
    say(f"[scraping demo] reconcile run {run.state}")
    if run.state != "success":
        problems.append("reconcile run failed")
    say(format_report(build_report(repo)))
    for problem in problems:
        say(f"[scraping demo] PROBLEM: {problem}")
    say("[scraping demo] OK" if not problems else "[scraping demo] FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with output_to_log(LOG):
        code = main()
    sys.exit(code)
