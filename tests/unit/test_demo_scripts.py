"""The demo scripts take no arguments: `--help` says what they do and runs nothing; anything else
is refused instead of being ignored while a whole demo runs against the local services."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["demo.py", "demo_scraping.py"])
def test_help_runs_nothing_and_a_stray_argument_is_refused(script, tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    run = [sys.executable, str(ROOT / "scripts" / script)]
    helped = subprocess.run([*run, "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("usage:"), helped.stdout + helped.stderr
    assert "demo" in helped.stdout and not (tmp_path / "demo-logs").exists()
    refused = subprocess.run([*run, "--days", "5"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "unrecognized arguments: --days 5" in refused.stderr
    assert not (tmp_path / "demo-logs").exists()
