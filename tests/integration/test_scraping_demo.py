"""`make demo`'s scraping part: the console holds the demo's own lines; Airflow's go to a log file."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.scraping_fixtures import ROOT


def test_scraping_demo_keeps_airflow_logs_off_the_console():
    """Run as `make demo` runs it: on the services of .local/airflow.env."""
    env = dict(os.environ)
    log = os.path.join(env["AIRFLOW_HOME"], "demo-logs", "scraping-demo.log")
    size_before = os.path.getsize(log) if os.path.exists(log) else 0

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_scraping.py")], env=env,
                            capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    console = (result.stdout + result.stderr).splitlines()
    assert "[scraping demo] OK" in console
    assert any(line.startswith("[scraping demo] upload of clientes_demo.xlsx: run success") for line in console)
    airflow_lines = [line for line in console if "loc=" in line or "[info" in line or "[warning" in line]
    assert airflow_lines == []
    with open(log) as fh:
        fh.seek(size_before)
        assert "loc=" in fh.read()  # Airflow did log: into the file
