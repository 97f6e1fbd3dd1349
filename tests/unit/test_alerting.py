"""The one final-failure rule both pipelines' failure callbacks use (callcentre.common.alerting)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from callcentre.common.alerting import is_final_failure


class Permanent(Exception):
    pass


def _context(try_number: int, max_tries: int, exception=None, state=None) -> dict:
    return {"ti": SimpleNamespace(try_number=try_number, max_tries=max_tries, state=state), "exception": exception}


@pytest.mark.parametrize("context,final", [
    (_context(1, 3, Permanent("bad file")), True),  # a permanent error ends it whatever tries remain
    (_context(1, 3, OSError("db down")), False),  # a transient one with tries left: Airflow retries
    (_context(4, 3, OSError("db down")), True),  # ... on its last try it is final
    (_context(4, 3, Permanent("x"), state="up_for_retry"), False),  # apache/airflow#65400
    (_context(4, 3, None), True),  # marked failed by hand / worker lost, tries used up
    (_context(2, 3, None), False),
])
def test_final_failure(context, final):
    assert is_final_failure(context, (Permanent,)) is final


def test_a_pipeline_that_settles_unraised_failures_itself_never_ends_on_them():
    """Scraping: a failure without the task's exception (apache/airflow#71172) is left to its reconcile DAG."""
    assert is_final_failure(_context(11, 10, None), (Permanent,), unraised_counts=False) is False
    assert is_final_failure(_context(11, 10, OSError("x")), (Permanent,), unraised_counts=False) is True


def test_the_uploaders_email_is_written_in_the_configured_language(monkeypatch):
    from callcentre.scraping.notify import message

    job = {"id": 9, "file_name": "lista 3001234567.xlsx", "status": "timeout", "processed_numbers": 2,
           "total_numbers": 5, "rejected_rows": 1, "last_error": "timed out", "retry_count": 2, "max_retries": 2}
    monkeypatch.setenv("CALLCENTRE_LANGUAGE", "es")
    subject, body = message(job, "http://airflow.local/plugin/scraping-jobs")
    assert subject == "Trabajo de scraping #9 vencido: lista [number].xlsx"
    assert "2 de 5 consultados" in body and "no sigue ningún reintento automático" in body
    monkeypatch.setenv("CALLCENTRE_LANGUAGE", "en")
    assert message(job, "http://x")[0] == "Scraping job #9 timed out: lista [number].xlsx"
