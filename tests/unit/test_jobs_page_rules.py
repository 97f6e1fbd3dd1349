"""The jobs page's plain rules: upload names and caps, folder confinement, query building, log choice."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from tests.scraping_fixtures import make_workbook, random_numbers


@pytest.mark.parametrize("raw,expected", [
    ("clientes.xlsx", "clientes.xlsx"),
    ("../../etc/cron.d/x.xlsx", "x.xlsx"),
    ("..\\..\\Windows\\x.xlsx", "x.xlsx"),
    ("C:\\Users\\ana\\Desktop\\lista final.XLSX", "lista final.XLSX"),
    ("<img src=x onerror=alert(1)>.xlsx", "<img src=x onerror=alert(1)>.xlsx"),  # stored sanitised, shown escaped
])
def test_client_file_name_keeps_only_the_last_component(raw, expected):
    from callcentre.scraping_page.intake import client_file_name

    assert client_file_name(raw) == expected


@pytest.mark.parametrize("raw,reason", [
    ("", "no file name"), ("..", "no file name"), ("dir/", "not an .xlsx"),
    ("lista.xls", "not an .xlsx"), ("lista.xlsx.exe", "not an .xlsx"),
])
def test_client_file_name_refusals(raw, reason):
    from callcentre.scraping_page.intake import UploadRefused, client_file_name

    with pytest.raises(UploadRefused, match=reason):
        client_file_name(raw)


def test_received_upload_streams_with_a_cap_and_cleans_up(tmp_path):
    from callcentre.scraping_page.intake import UploadRefused, received_upload

    content = make_workbook(tmp_path / "ok.xlsx", [[n] for n in random_numbers(3)], header=["phone"]).read_bytes()
    with received_upload(io.BytesIO(content), "../ok.xlsx") as path:
        assert path.name == "ok.xlsx" and path.read_bytes() == content
    assert not path.parent.exists()
    with pytest.raises(UploadRefused, match="larger than") as refused:
        with received_upload(io.BytesIO(content), "ok.xlsx", max_bytes=len(content) - 1):
            pytest.fail("an upload over the cap was accepted")
    assert refused.value.status == 413


def test_inside_refuses_escapes(tmp_path):
    from callcentre.scraping_page.intake import inside

    root = tmp_path / "results"
    root.mkdir()
    (root / "a.xlsx").write_bytes(b"x")
    (root / "out.xlsx").symlink_to(tmp_path / "secret")
    assert inside(root, root / "a.xlsx") == (root / "a.xlsx").resolve()
    assert inside(root, "a.xlsx") == (root / "a.xlsx").resolve()
    for escape in (root / ".." / "secret", "/etc/passwd", "../secret", root / "out.xlsx", root):
        assert inside(root, escape) is None, escape


def test_search_terms_are_parameters_and_literal():
    from callcentre.scraping_page.queries import JobQuery, order_clause, where_clause

    where, params = where_clause(JobQuery(search="50%_off'; --"))
    assert "50" not in where and params["pattern"] == "%50\\%\\_off'; --%"
    where, params = where_clause(JobQuery(search="#123"))
    assert "id = %(job_id)s" in where and params["job_id"] == 123 and "ILIKE" not in where  # that job only
    where, params = where_clause(JobQuery(search="123"))
    assert "id = %(job_id)s" in where and "file_name ILIKE" in where  # and names holding 123
    assert order_clause(JobQuery(sort="completed_at", descending=False)) == \
        " ORDER BY completed_at ASC NULLS LAST, id ASC"
    assert order_clause(JobQuery()) == " ORDER BY created_at DESC, id DESC"  # NOT NULL: the index serves it


@pytest.mark.parametrize("kwargs,message", [
    ({"sort": "id; DROP TABLE x"}, "sort"), ({"statuses": ("lost",)}, "status"), ({"page_size": 0}, "page_size"),
    ({"created_to": datetime(2026, 1, 1)}, "time zone"), ({"search": "x" * 201}, "longer"),
])
def test_bad_queries_name_the_parameter(kwargs, message):
    from callcentre.scraping_page.queries import BadQuery, JobQuery

    with pytest.raises(BadQuery, match=message):
        JobQuery(**kwargs)


def test_the_logs_link_picks_the_task_that_failed():
    from callcentre.common.ui_page import telling_task

    tis = [
        {"task_id": "register_job", "map_index": -1, "state": "success", "start_date": "2026-11-23T10:00:00Z",
         "end_date": "2026-11-23T10:00:01Z"},
        {"task_id": "lookup_batch", "map_index": 0, "state": "success", "start_date": "2026-11-23T10:00:02Z",
         "end_date": "2026-11-23T10:00:09Z"},
        {"task_id": "lookup_batch", "map_index": 1, "state": "failed", "start_date": "2026-11-23T10:00:02Z",
         "end_date": "2026-11-23T10:00:05Z"},
        {"task_id": "write_results", "map_index": -1, "state": "upstream_failed", "start_date": None,
         "end_date": "2026-11-23T10:00:10Z"},
    ]
    assert (telling_task(tis)["task_id"], telling_task(tis)["map_index"]) == ("lookup_batch", 1)
    running = [dict(t, state="success") for t in tis[:2]]
    assert telling_task(running)["map_index"] == 0  # nothing failed: the latest that ran
    assert telling_task([]) is None


@pytest.mark.parametrize("stem", ["x" * 230, "lista de clientes de la campaña de diciembre " * 6, "日本語の顧客" * 40])
def test_a_long_file_name_is_accepted_and_stored_with_its_extension(tmp_path, stem):
    """Names of 200+ characters (and of multi-byte letters) keep ``.xlsx`` and fit a file system."""
    from callcentre.scraping.upload import store_upload
    from callcentre.scraping_page.intake import client_file_name, received_upload

    raw = stem + ".xlsx"
    assert len(raw) > 200
    name = client_file_name(raw)
    assert name.endswith(".xlsx") and len(name.encode()) <= 200 and raw.startswith(name[:-5].rstrip())
    content = make_workbook(tmp_path / "ok.xlsx", [[n] for n in random_numbers(2)], header=["phone"]).read_bytes()
    with received_upload(io.BytesIO(content), raw) as path:
        stored = store_upload(path, tmp_path / "uploads")
    assert stored.path.name.endswith(".xlsx") and len(stored.path.name.encode()) <= 255
    assert stored.path.read_bytes() == content


@pytest.mark.parametrize("error,file_name,plain", [
    ("reconcile: Airflow run failed and no failure callback ran (worker lost?)", "a.xlsx",
     "Processing stopped unexpectedly (the Airflow worker was lost). Retry it."),
    ("reconcile: still queued after its 60-minute timeout", "a.xlsx", "Took longer than the 60 minutes allowed."),
    ("marked as timeout by ana (was processing)", "a.xlsx", "Stopped by ana (marked as timed out)."),
    ("job #7 passed its timeout of 30 minutes (batch 1 still submitted at the API)", "a.xlsx",
     "Took longer than the 30 minutes allowed."),
    ("lookup_batch 3: POST /v1/lookups: HTTP 503 Service Unavailable", "a.xlsx",
     "The lookup service did not answer properly (it may be down). Retry it later."),
    ("a.xlsx: no phone column in sheet 'Hoja1': ...", "a.xlsx", "Problem with the file: no phone column in sheet 'Hoja1': ..."),
    ("upload 'a.xlsx' not found in the uploads folder", "a.xlsx",
     "The uploaded file is no longer in the uploads folder. Upload it again."),
    ("the API answered 3 of 4 numbers of batch 0: the batch is submitted again when the job is retried", "a.xlsx",
     "The lookup service answered only 3 of 4 numbers of part of the list. Retry it."),
    ("neither Airflow Variable storage_base nor scraping_uploads_dir is set", "a.xlsx",
     "Airflow is not fully set up for uploads: tell the Airflow administrators."),
    ("KeyError: 'x'", "a.xlsx", "Something went wrong; the details below tell the Airflow administrators what."),
    (None, "a.xlsx", ""),
])
def test_errors_are_told_in_plain_words(error, file_name, plain):
    from callcentre.scraping_page.wording import plain_error

    assert plain_error(error, file_name) == plain


def test_every_status_has_words():
    from callcentre.scraping.jobs import STATUSES
    from callcentre.scraping_page.wording import STATUS_WORDS

    assert set(STATUS_WORDS) == set(STATUSES)


@pytest.mark.parametrize("error,english,spanish", [
    ("batch 2: the API could not process batch (HTTP 503)", "did not answer properly", "no respondió bien"),
    ("job passed its timeout of 30.0 minutes", "the 30.0 minutes allowed", "los 30.0 minutos permitidos"),
    ("marked as timeout by ed (was processing)", "Stopped by ed", "Detenido por ed"),
    ("lista.xlsx: no phone column in sheet 'Hoja1'", "Problem with the file: no phone column",
     "Problema con el archivo: no phone column"),
    ("something nobody planned", "Something went wrong", "Algo salió mal"),
])
def test_plain_errors_in_both_languages(error, english, spanish):
    from callcentre.scraping_page.wording import plain_error

    assert english in plain_error(error, "lista.xlsx", "en")
    assert spanish in plain_error(error, "lista.xlsx", "es")
    assert plain_error(error, "lista.xlsx", "fr") == plain_error(error, "lista.xlsx", "en")


def test_every_status_has_words_in_both_languages():
    from callcentre.scraping.jobs import STATUSES
    from callcentre.scraping_page.wording import status_words

    for lang in ("en", "es"):
        assert set(status_words(lang)) == set(STATUSES) and all(status_words(lang).values())
    assert status_words("es")["completed"] == "Terminado"


@pytest.mark.parametrize("from_day,to_day,tz,reason", [
    ("2026-11-10", "2026-11-01", "UTC", "is after to_day"),
    ("2024-01-01", "2026-11-01", "UTC", "more than 366 days"),
    (None, None, "Mars/Olympus", "not a time zone name"),
    (None, None, "../../etc/passwd", "not a time zone name"),
])
def test_dashboard_range_refusals(from_day, to_day, tz, reason):
    from datetime import date, timezone

    from callcentre.scraping_page.dashboard import BadRange, day_range

    with pytest.raises(BadRange, match=reason):
        day_range(from_day and date.fromisoformat(from_day), to_day and date.fromisoformat(to_day), tz,
                  datetime(2026, 11, 23, tzinfo=timezone.utc))


def test_dashboard_default_range_is_the_last_30_days_in_the_zone():
    from datetime import date, timezone

    from callcentre.scraping_page.dashboard import day_range

    # 03:00 UTC on Nov 23 is still Nov 22 in Bogota (UTC-5).
    span = day_range(None, None, "America/Bogota", datetime(2026, 11, 23, 3, tzinfo=timezone.utc))
    assert (span.first, span.last) == (date(2026, 10, 24), date(2026, 11, 22))
    assert span.start.isoformat() == "2026-10-24T00:00:00-05:00" and len(span.days()) == 30
