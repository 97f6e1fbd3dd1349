"""Slack alerts in the configured language (CALLCENTRE_LANGUAGE), never with phone numbers."""

from __future__ import annotations

import pytest

from callcentre.scraping.alerts import job_alert_text

JOB = {"id": 7, "status": "failed", "file_name": "clientes 3001234567.xlsx", "uploader": "ana", "retry_count": 3,
       "max_retries": 3, "last_error": "bad row 3001234567", "dag_id": "scraping_upload",
       "airflow_run_id": "upload__abc"}


def test_spanish_alert_when_configured(monkeypatch):
    monkeypatch.setenv("CALLCENTRE_LANGUAGE", "es")
    text = job_alert_text(JOB)
    assert "El trabajo de scraping #7 terminó `failed`" in text
    assert "• usuario: ana" in text and "sin reintentos (3/3)" in text
    assert "3001234567" not in text


@pytest.mark.parametrize("value", ["", "EN", "fr"])
def test_english_by_default_and_for_an_unknown_language(monkeypatch, caplog, value):
    monkeypatch.setenv("CALLCENTRE_LANGUAGE", value)
    text = job_alert_text({**JOB, "failure_kind": "permanent"})
    assert "Scraping job #7 ended `failed`" in text and "not retried automatically" in text
    assert ("is not one of en, es" in caplog.text) == (value == "fr")
