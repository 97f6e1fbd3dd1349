"""The uploader is told by email: scraping_upload through dag.test() with the lookup API and a real
SMTP server on loopback (tests.smtp_server) that Airflow's SmtpHook talks to."""

from __future__ import annotations

import json
import time

import pytest

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import make_workbook, random_numbers

ADDRESS = "ana.lopez@example.com"


@pytest.fixture
def fake_smtp(monkeypatch):
    from tests.smtp_server import FakeSmtpServer

    server = FakeSmtpServer(("127.0.0.1", 0))
    thread = __import__("threading").Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_SCRAPING_SMTP", json.dumps(server.connection))
    yield server
    server.shutdown()
    server.server_close()


def _digits(text: str) -> list[str]:
    import re

    return re.findall(r"\d{7,}", text)


def test_a_completed_job_emails_its_uploader_once_without_phone_numbers(run_upload, scraping_api, tmp_path, fake_smtp):
    numbers = random_numbers(5)
    path = make_workbook(tmp_path / f"clientes {numbers[0]}.xlsx", [[f"c{i}", n] for i, n in enumerate(numbers)])
    dag_run, job = run_upload(path, notify_email=ADDRESS)
    assert dag_run.state == "success" and job["status"] == "completed"
    assert len(fake_smtp.messages) == 1
    mail = fake_smtp.messages[0]
    assert mail["to"] == [ADDRESS] and mail["from"] == "scraping@callcentre.local"
    assert mail["subject"] == f"Scraping job #{job['id']} completed: clientes [number].xlsx"
    assert "5 of 5 looked up" in mail["body"] and "/plugin/scraping-jobs" in mail["body"]
    assert not any(n in mail["raw"] for n in numbers) and _digits(mail["body"]) == []


def test_no_email_without_an_address_or_with_the_opt_out(run_upload, scraping_api, tmp_path, fake_smtp):
    for i, conf in enumerate(({}, {"notify_email": ADDRESS, "notify": False})):
        path = make_workbook(tmp_path / f"l{i}.xlsx", [["c", n] for n in random_numbers(2)])
        dag_run, job = run_upload(path, **conf)
        assert dag_run.state == "success" and job["status"] == "completed"
    assert fake_smtp.messages == []


def test_a_job_failed_for_good_emails_why_once(run_upload, scraping_api, tmp_path, fake_smtp, fake_slack):
    path = tmp_path / "notas.xlsx"
    path.write_text(f"phone\n3001234567\nx{time.time_ns()}\n")  # not a workbook: permanent, no retry
    dag_run, job = run_upload(path, notify_email=ADDRESS)
    assert dag_run.state == "failed" and job["status"] == "failed" and job["failure_kind"] == "permanent"
    assert [m["to"] for m in fake_smtp.messages] == [[ADDRESS]]
    mail = fake_smtp.messages[0]
    assert mail["subject"] == f"Scraping job #{job['id']} failed: notas.xlsx"
    assert "not an .xlsx workbook" in mail["body"] and "no automatic retry follows" in mail["body"]
    assert "3001234567" not in mail["raw"]
    # The callback firing again (Airflow may) sends nothing more.
    from callcentre.scraping.notify import tell_uploader

    assert tell_uploader(job, {"notify_email": ADDRESS}) is False
    assert len(fake_smtp.messages) == 1


def _mails_about(fake_smtp, job_id: int) -> list[dict]:
    return [m for m in fake_smtp.messages if f"#{job_id} " in m["subject"]]


def test_a_mail_server_down_delays_the_email_to_the_next_reconcile_run(run_upload, scraping_api, scraping_dags,
                                                                         tmp_path, monkeypatch, fake_smtp):
    from tests.e2e.airflow_processes import free_port

    monkeypatch.setenv("AIRFLOW_CONN_SCRAPING_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "x@y.z", "retry_limit": 0, "timeout": 2}}))
    path = make_workbook(tmp_path / "l.xlsx", [["c", n] for n in random_numbers(2)])
    dag_run, job = run_upload(path, notify_email=ADDRESS)
    assert dag_run.state == "success" and job["status"] == "completed"  # the outage changes nothing
    assert _mails_about(fake_smtp, job["id"]) == []

    monkeypatch.setenv("AIRFLOW_CONN_SCRAPING_SMTP", json.dumps(fake_smtp.connection))  # the server is back
    for _ in range(2):  # the next reconcile run sends it; the one after has nothing to send
        assert scraping_dags["reconcile"].test().state == "success"
    [mail] = _mails_about(fake_smtp, job["id"])
    assert mail["to"] == [ADDRESS] and mail["subject"].endswith(" completed: l.xlsx")


def test_a_slack_outage_delays_the_jobs_alert_to_the_next_reconcile_run(run_upload, scraping_api, scraping_dags,
                                                                          tmp_path, fake_slack, job_repo):
    path = tmp_path / "roto.xlsx"
    path.write_text(f"phone\nx{time.time_ns()}\n")  # not a workbook: failed for good at once
    fake_slack.fail_with = 500
    dag_run, job = run_upload(path)
    assert dag_run.state == "failed" and job["status"] == "failed" and job["failure_kind"] == "permanent"

    def alerts() -> list[str]:
        return [m["text"] for m in fake_slack.messages if f"job #{job['id']} " in m["text"]]

    assert alerts() == []
    fake_slack.fail_with = None
    for _ in range(2):
        assert scraping_dags["reconcile"].test().state == "success"
    [text] = alerts()
    assert "ended `failed`" in text


def test_a_job_the_reconcile_dag_ends_emails_the_address_of_its_upload(run_upload, scraping_api, scraping_dags,
                                                                          tmp_path, fake_smtp, fake_slack, job_repo):
    path = make_workbook(tmp_path / "perdido.xlsx", [[n] for n in random_numbers(2)], header=["phone"])
    scraping_api.set_knobs(fail_lookups=True)
    dag_run, job = run_upload(path, max_retries=0, notify_email=ADDRESS)
    assert dag_run.state == "failed" and len(_mails_about(fake_smtp, job["id"])) == 1
    # As if the run's failure callbacks had been lost: the job still processing, nothing sent.
    with job_repo._cursor() as cur:
        cur.execute("UPDATE scraping.jobs SET status = 'processing', completed_at = NULL, alerted_at = NULL "
                    "WHERE id = %s", (job["id"],))
        cur.execute("DELETE FROM scraping.outbox WHERE job_id = %s", (job["id"],))
    fake_smtp.messages.clear()

    assert scraping_dags["reconcile"].test().state == "success"
    assert job_repo.get(job["id"])["status"] == "failed"
    [mail] = _mails_about(fake_smtp, job["id"])
    assert mail["to"] == [ADDRESS] and "reconcile: Airflow run failed" in mail["body"]


@pytest.mark.parametrize("conf,expected", [
    ({"notify_email": ADDRESS}, ADDRESS), ({"notify_email": f" {ADDRESS} "}, ADDRESS), ({}, None),
    ({"notify_email": ADDRESS, "notify": False}, None), ({"notify_email": ""}, None),
])
def test_recipient(conf, expected):
    from callcentre.scraping.notify import recipient

    assert recipient(conf) == expected


@pytest.mark.parametrize("bad", ["ana", "a@b", "a@b.c, x@y.z", "<a@b.c>", "a b@c.d"])
def test_a_bad_address_is_refused_by_value(bad):
    from callcentre.scraping.notify import BadNotifyConf, recipient

    with pytest.raises(BadNotifyConf, match="not one email address"):
        recipient({"notify_email": bad})


def test_the_message_escapes_and_scrubs_what_the_upload_brought():
    from callcentre.scraping.notify import message

    job = {"id": 7, "file_name": "<b>lista</b> 3001234567.xlsx", "status": "timeout", "processed_numbers": 1,
           "total_numbers": 4, "rejected_rows": 0, "last_error": "batch of +57 300 123 4567 <script>x</script>",
           "retry_count": 3, "max_retries": 3}
    subject, body = message(job, "http://airflow.local/plugin/scraping-jobs")
    assert subject == "Scraping job #7 timed out: <b>lista</b> [number].xlsx"  # a plain-text header
    assert "&lt;b&gt;lista&lt;/b&gt;" in body and "&lt;script&gt;" in body and "<script>" not in body
    assert "3001234567" not in body and "300 123 4567" not in body
    assert "3 of 3 used" in body
