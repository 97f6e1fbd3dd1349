"""Run settings, upload paths, alert text and the reconcile decision table."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from callcentre.common.airflow_urls import dag_run_url
from callcentre.common.slack import scrub_numbers
from callcentre.scraping import config
from callcentre.scraping.notify import job_alert_text
from callcentre.scraping.reconcile import decide

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def test_settings_defaults_then_environment_then_variable(monkeypatch):
    conf = {"file": "a.xlsx", "uploader": "ana"}
    s = config.resolve_settings(conf)
    assert (s.timeout_minutes, s.max_retries, s.batch_size) == (30.0, 3, 250)
    monkeypatch.setenv("SCRAPING_TIMEOUT_MINUTES", "45")
    monkeypatch.setenv("SCRAPING_MAX_RETRIES", "5")
    assert config.resolve_settings(conf).timeout_minutes == 45.0
    assert config.resolve_settings(conf, lambda key: "7" if key == "scraping_max_retries" else None).max_retries == 7
    assert config.resolve_settings({**conf, "max_retries": 0}).max_retries == 0


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"uploader": "ana"}, "conf.file"),
        ({"file": "a.xlsx"}, "conf.uploader"),
        ({"file": "a.xlsx", "uploader": "ana", "max_retries": 11}, "outside"),
        ({"file": "a.xlsx", "uploader": "ana", "timeout_minutes": "soon"}, "not a number"),
        ({"file": "a.xlsx", "uploader": "ana", "batch_size": 0}, "outside"),
        ({"file": "a.xlsx", "uploader": "ana", "max_retries": 1.5}, "whole number"),
    ],
)
def test_bad_conf(conf, message):
    with pytest.raises(config.BadRunConf, match=message):
        config.resolve_settings(conf)


@pytest.mark.parametrize(
    "text",
    [
        "3001234567", "+573001234567", "call 300 123 4567 now", "(601) 555-1234", "300-123-4567",
        # Written in pairs and groups (issue 10): Mexico, Spain, Colombia.
        "55 92 19 32 70", "llamar al 612 34 56 78.", "300 123 45 67", "+34 612 34 56 78", "3001234567.0",
        "row 4: '300.123.45.67' rejected", "tel:+57 (601) 555 12 34", "numbers 3001234567, 3009876543",
        "clientes 3001234567.xlsx",
    ],
)
def test_scrub_numbers(text):
    scrubbed = scrub_numbers(text)
    assert "[number]" in scrubbed
    digits = [run for run in re.findall(r"[\d .()+-]+", scrubbed.replace("[number]", "|")) if run.strip()]
    assert sum(ch.isdigit() for run in digits for ch in run) < 7, scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "job #12 of 2026-11-22: 5000 numbers, batch 3",
        "run scheduled__2026-11-23T00:00:00+00:00 try 2",
        "upload__3a41234567890bcd failed at 2026-11-23 14:05:09",
        "POST lookups: ConnectionError to 127.0.0.1:48071",
        "the API answered 248 of 250 numbers of batch 12",
        "job 12 used 3 of its 3 retries",
    ],
)
def test_scrub_keeps_dates_ids_and_counts(text):
    assert scrub_numbers(text) == text


def _job(**kw):
    job = {
        "id": 7, "status": "processing", "file_name": "clientes 3001234567.xlsx", "uploader": "ana",
        "retry_count": 1, "max_retries": 3, "last_error": "bad row 3001234567", "dag_id": "scraping_upload",
        "airflow_run_id": "upload__abc", "timeout_minutes": 30.0, "deadline": NOW + timedelta(minutes=5),
    }
    job.update(kw)
    return job


def test_alert_text_has_no_phone_numbers():
    text = job_alert_text(_job(status="failed"))
    assert "3001234567" not in text
    assert "job #7" in text and "ana" in text and "failed" in text and dag_run_url("scraping_upload", "upload__abc") in text


@pytest.mark.parametrize(
    "run_state, overdue, results, action",
    [
        ("success", False, True, "completed"),
        ("success", False, False, "failed"),
        ("failed", False, False, "failed"),
        ("failed", True, False, "timeout"),
        ("running", True, False, "timeout"),
        ("queued", True, False, "timeout"),
        ("running", False, False, "none"),
        (None, False, False, "none"),
        (None, True, False, "failed"),
    ],
)
def test_reconcile_decisions(run_state, overdue, results, action):
    deadline = NOW - timedelta(minutes=1) if overdue else NOW + timedelta(minutes=1)
    assert decide(_job(deadline=deadline), run_state, NOW, results).action == action
