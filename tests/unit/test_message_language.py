"""Slack alerts in the configured language (CALLCENTRE_LANGUAGE), never with phone numbers."""

from __future__ import annotations

import pytest

from callcentre.scraping.notify import job_alert_text

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


def test_ivr_alerts_in_spanish_keep_codes_commands_and_errors(monkeypatch):
    from datetime import date
    from zoneinfo import ZoneInfo

    from callcentre.ivr import alert_messages, alerts, deadline

    monkeypatch.setenv("CALLCENTRE_LANGUAGE", "es")
    failure = alerts.TaskFailure("ivr_calls_daily", "scheduled__x", 1, "load_hour", 3, date(2026, 1, 2), 3, 2,
                                 "hour 03: 12 rows rejected", "http://ui/log")
    text = alerts.run_failed_message("ivr_calls_daily", "scheduled__x", "http://ui/run", date(2026, 1, 2), "task_failure",
                                     [failure])
    assert text.startswith(":red_circle: falló la ejecución de `ivr_calls_daily` — día de negocio 2026-01-02")
    assert "• fallidas (1): load_hour: hora 03" in text and "hour 03: 12 rows rejected" in text
    zone = ZoneInfo("America/Bogota")
    day = date(2026, 3, 1)
    late = alert_messages.deadline_message(day, deadline.deadline_of(day, zone, 6), zone, 6)
    assert "no se cargó a tiempo" in late and "si el día no tiene ejecución: `airflow " in late and "backfill" in late
    assert "Airflow PAUSÓ `ivr_calls_daily`" in alerts.paused_message("ivr_calls_daily", 3)
    monkeypatch.setenv("CALLCENTRE_LANGUAGE", "en")
    assert "not loaded by its deadline" in alert_messages.deadline_message(day, deadline.deadline_of(day, zone, 6), zone, 6)


@pytest.mark.parametrize("language, repaired, failed", [
    ("en", "• 2026-06-24: hours 08, 23; metrics rewritten", "• 2026-06-23: FAILED, metrics left as they were: "),
    ("es", "• 2026-06-24: horas 08, 23; métricas reescritas", "• 2026-06-23: FALLÓ, métricas sin cambios: "),
])
def test_the_drift_batch_message_in_each_language(monkeypatch, language, repaired, failed):
    from callcentre.ivr.drift import RepairReport

    monkeypatch.setenv("CALLCENTRE_LANGUAGE", language)
    text = RepairReport({"2026-06-24": [8, 23]}, {"2026-06-23": "why"}).message("ivr_drift_check", "manual__r")
    assert text.splitlines()[0].startswith(":wrench: ivr_drift_check (manual__r): ")
    assert text.splitlines()[1:] == [failed + "why", repaired]  # the failed days first: never cut off
