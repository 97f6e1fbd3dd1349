"""DAG scraping_upload end to end through dag.test(): real PostgreSQL, the reference lookup API and
the Slack stand-in as real HTTP servers. Each test asserts the job row, the results workbook and
what the API server received."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import make_workbook, random_numbers


def _sheet_rows(path, name):
    wb = load_workbook(path)
    ws = wb[name]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    kinds = {c.data_type for row in ws.iter_rows() for c in row}
    return rows, kinds


def test_upload_to_results_workbook(run_upload, scraping_api, tmp_path, fake_slack):
    numbers = random_numbers(11)
    rows = [[f"client {i}", f"{n[:3]}-{n[3:6]} {n[6:]}"] for i, n in enumerate(numbers)]
    rows += [["dup", numbers[0]], ["bad", "@SUM(A1)"], ["bad2", "-llamar luego"], ["empty", None], ["plus", "+57 " + numbers[1]]]
    path = make_workbook(tmp_path / "clientes.xlsx", rows)

    dag_run, job = run_upload(path, batch_size=4)

    assert dag_run.state == "success"
    assert job["status"] == "completed"
    assert job["total_numbers"] == 12 and job["processed_numbers"] == 12
    assert job["rejected_rows"] == 2 and job["retry_count"] == 0
    assert job["started_at"] <= job["completed_at"]
    assert job["file_name"] == "clientes.xlsx" and job["uploader"] == "ana"
    # 12 numbers in batches of 4: three lookups, each submitted exactly once.
    assert sorted(scraping_api.lookups_created_per_reference().values()) == [1, 1, 1]
    assert len(scraping_api.requests_for("POST")) == 3
    results, kinds = _sheet_rows(job["results_file"], "results")
    assert results[0][:4] == ["number", "status", "carrier", "line_type"]
    assert sorted(r[0] for r in results[1:]) == sorted(numbers + ["+57" + numbers[1]])
    assert all(r[1] in ("active", "inactive") for r in results[1:])
    rejected, rejected_kinds = _sheet_rows(job["results_file"], "rejected")
    assert [r[:2] for r in rejected[1:]] == [[14, "@SUM(A1)"], [15, "-llamar luego"]]
    assert "f" not in kinds | rejected_kinds  # nothing written as a formula
    source, _ = _sheet_rows(job["results_file"], "source")
    assert source[1] == ["read from", "sheet 'Sheet', column B ('Teléfono', header in row 1)"]
    assert job["source_sheet"] == source[1][1]
    assert fake_slack.messages == []


def test_api_500_then_success_submits_each_batch_once(run_upload, scraping_api, tmp_path):
    numbers = random_numbers(6)
    path = make_workbook(tmp_path / "flaky.xlsx", [[f"c{i}", n] for i, n in enumerate(numbers)])
    # The first poll of each batch gets a 500 *after* the API accepted the batch: the retry must
    # poll the stored lookup, not submit again.
    scraping_api.set_knobs(fail_next=2, fail_method="GET")

    dag_run, job = run_upload(path, batch_size=3)

    assert dag_run.state == "success"
    assert job["status"] == "completed" and job["processed_numbers"] == 6
    assert job["task_retries"] == 2  # one Airflow retry per batch ...
    assert job["retry_count"] == 0  # ... and no job-level retry
    assert job["last_error"] is None  # a completed job does not keep the transient error
    posts = scraping_api.requests_for("POST")
    assert len(posts) == 2 and {p["status"] for p in posts} == {202}
    assert sorted(scraping_api.lookups_created_per_reference().values()) == [1, 1]
    assert [r["status"] for r in scraping_api.requests_for("GET")].count(500) == 2


def test_api_500_on_submit_is_retried(run_upload, scraping_api, tmp_path):
    path = make_workbook(tmp_path / "down.xlsx", [[n] for n in random_numbers(3)], header=["phone"])
    scraping_api.set_knobs(fail_next=2, fail_method="POST")

    dag_run, job = run_upload(path)

    assert dag_run.state == "success" and job["status"] == "completed"
    assert (job["task_retries"], job["retry_count"]) == (2, 0)
    posts = scraping_api.requests_for("POST")
    assert [p["status"] for p in posts] == [500, 500, 202]
    assert list(scraping_api.lookups_created_per_reference().values()) == [1]


def test_429_retry_after_is_honoured(run_upload, scraping_api, tmp_path):
    path = make_workbook(tmp_path / "slow.xlsx", [[n] for n in random_numbers(3)], header=["Celular"])
    scraping_api.set_knobs(throttle_next=1, retry_after=2)

    dag_run, job = run_upload(path)

    assert dag_run.state == "success" and job["status"] == "completed"
    assert job["task_retries"] == 0  # absorbed by the hook, not an Airflow retry
    first, second = scraping_api.requests_for("POST")[:2]
    assert first["status"] == 429 and second["status"] == 202
    assert second["t"] - first["t"] >= 2.0  # measured on the server side


def test_api_4xx_fails_at_once_without_retries_and_alerts_once(run_upload, scraping_api, tmp_path, fake_slack):
    path = make_workbook(tmp_path / "denied.xlsx", [[n] for n in random_numbers(2)], header=["movil"])
    scraping_api.token = "another-token"  # our token is now wrong: 401

    dag_run, job = run_upload(path, batch_size=1)

    assert dag_run.state == "failed"
    assert job["status"] == "failed" and job["retry_count"] == 0 and job["failure_kind"] == "permanent"
    assert "HTTP 401" in job["last_error"]
    assert [p["status"] for p in scraping_api.requests_for("POST")] == [401, 401]  # each batch tried once
    batches = [ti for ti in dag_run.get_task_instances() if ti.task_id == "lookup_batch"]
    assert len(batches) == 2 and {ti.state for ti in batches} == {"failed"}
    assert len(fake_slack.messages) == 1  # two failed batches, one job, one alert


def test_transient_errors_stop_after_max_retries(run_upload, scraping_api, tmp_path, fake_slack):
    """The API stays down: the run gives up after max_retries task retries; the job is failed but
    retryable with its job-level retries unused, so no alert yet (the automatic retry takes it)."""
    path = make_workbook(tmp_path / "dead.xlsx", [[n] for n in random_numbers(2)], header=["numero"])
    scraping_api.set_knobs(fail_next=100)

    dag_run, job = run_upload(path, max_retries=1)

    assert dag_run.state == "failed"
    assert job["status"] == "failed" and job["failure_kind"] == "retryable"
    assert (job["retry_count"], job["max_retries"], job["task_retries"]) == (0, 1, 1)
    assert "gave up after 1 retries" in job["last_error"]
    assert len(scraping_api.requests_for("POST")) == 2
    assert fake_slack.messages == []
    assert job["alerted_at"] is None


def test_short_answer_fails_the_batch_and_is_alerted_when_final(run_upload, scraping_api, tmp_path, fake_slack):
    numbers = random_numbers(4)
    path = make_workbook(tmp_path / "corto.xlsx", [[n] for n in numbers], header=["phone"])
    scraping_api.set_knobs(drop_answers=1)

    dag_run, job = run_upload(path, batch_size=4, max_retries=0)

    assert dag_run.state == "failed"
    assert job["status"] == "failed" and job["failure_kind"] == "retryable"
    assert "the API answered 3 of 4 numbers of batch 0" in job["last_error"]
    assert job["processed_numbers"] == 0 and job["results_file"] is None
    assert len(fake_slack.messages) == 1 and "out of retries (0/0)" in fake_slack.messages[0]["text"]


def test_processed_numbers_move_with_each_finished_batch(run_upload, scraping_api, tmp_path, job_repo):
    """One batch answered, the other never: the job shows the answered batch while it waits."""
    path = make_workbook(tmp_path / "medio.xlsx", [[n] for n in random_numbers(5)], header=["phone"])
    scraping_api.set_knobs(never_finish=True)

    dag_run, job = run_upload(path, batch_size=3, timeout_minutes=0.05, max_retries=0)
    assert job["status"] == "timeout" and job["processed_numbers"] == 0
    job_repo.record_results(job["id"], 0, "done", [{"number": n} for n in job_repo.batch(job["id"], 0)["numbers"]])
    assert job_repo.get(job["id"])["processed_numbers"] == 3
    job_repo.record_results(job["id"], 1, "done", [{"number": n} for n in job_repo.batch(job["id"], 1)["numbers"]])
    assert job_repo.get(job["id"])["processed_numbers"] == 5


def test_batch_that_never_finishes_ends_as_timeout(run_upload, scraping_api, tmp_path, fake_slack):
    numbers = random_numbers(3)
    path = make_workbook(tmp_path / "eterno.xlsx", [[n] for n in numbers], header=["telefono"])
    scraping_api.set_knobs(never_finish=True)

    started = time.monotonic()
    dag_run, job = run_upload(path, timeout_minutes=0.05, uploader="luis", max_retries=0)  # 3 seconds

    assert dag_run.state == "failed"
    assert job["status"] == "timeout" and job["failure_kind"] == "retryable"
    assert "passed its timeout" in job["last_error"]
    assert job["results_file"] is None
    assert time.monotonic() - started >= 3
    assert len(scraping_api.requests_for("GET")) >= 2  # it kept polling until the deadline
    assert len(scraping_api.requests_for("POST")) == 1
    assert len(fake_slack.messages) == 1
    text = fake_slack.messages[0]["text"]
    assert "eterno.xlsx" in text and "luis" in text and "timeout" in text and quote(dag_run.run_id) in text
    assert not any(n in text for n in numbers)


def test_same_upload_twice_makes_one_job(run_upload, scraping_api, tmp_path, job_repo):
    path = make_workbook(tmp_path / "twice.xlsx", [[n] for n in random_numbers(2)], header=["phone"])

    first_run, first_job = run_upload(path)
    second_run, second_job = run_upload(path, uploader="otra")

    assert first_run.state == "success" and first_job["status"] == "completed"
    assert second_run.state == "success"  # skipped: nothing new to do
    states = {ti.task_id: ti.state for ti in second_run.get_task_instances()}
    assert states["register_job"] == "skipped" and states["write_results"] == "skipped"
    assert second_job is None
    assert job_repo.get(first_job["id"])["status"] == "completed"
    assert len(scraping_api.requests_for("POST")) == 1


# name -> (file name, builder(path, salt), expected reason). The salt makes every file unique: the
# same content uploaded again is (rightly) a duplicate of the first job.
BAD_WORKBOOKS = {
    "not_xlsx": ("notas.xlsx", lambda p, salt: p.write_text(f"phone\n3001234567\n{salt}\n"), "not an .xlsx workbook"),
    "corrupt": ("roto.xlsx", lambda p, salt: p.write_bytes(b"PK\x03\x04" + salt.encode() + b"\x00" * 200),
                "corrupt workbook"),
    "encrypted": ("clave.xlsx", lambda p, salt: p.write_bytes(_ole_with_encryption() + salt.encode()),
                  "password-protected"),
    "no_rows": ("vacio.xlsx", lambda p, salt: _empty_workbook(p, salt), "no rows"),
    "too_many": ("grande.xlsx", lambda p, salt: make_workbook(p, [[n] for n in random_numbers(5001)], header=["phone"]),
                 "more than 5000 phone numbers"),
    "no_phone_column": ("sin.xlsx", lambda p, salt: make_workbook(p, [[salt, "a@x.co"]], header=["Nombre", "Email"]),
                        "no phone column"),
    "no_valid_number": ("malos.xlsx", lambda p, salt: make_workbook(p, [["abc"], [salt]], header=["phone"]),
                        "no valid phone number"),
}


def _empty_workbook(path, salt):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = salt[:30]
    wb.save(path)


def _ole_with_encryption() -> bytes:
    """The container of an encrypted .xlsx: an OLE2 file with an EncryptionInfo stream."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100 + "EncryptedPackage".encode("utf-16-le")
    return header + directory + b"\x00" * 1024


@pytest.mark.parametrize("case", sorted(BAD_WORKBOOKS))
def test_bad_workbook_fails_job_without_retries(case, run_upload, scraping_api, tmp_path, fake_slack):
    name, build, reason = BAD_WORKBOOKS[case]
    path = tmp_path / name
    salt = f"x{time.time_ns()}"
    build(path, salt)

    dag_run, job = run_upload(path)

    assert dag_run.state == "failed"
    assert job["status"] == "failed", job
    assert job["last_error"].startswith(f"{name}: ") and reason in job["last_error"]
    assert job["retry_count"] == 0 and job["failure_kind"] == "permanent"  # never retried automatically
    read = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "read_numbers")
    assert read.try_number == 1
    assert scraping_api.requests_for("POST") == []
    assert len(fake_slack.messages) == 1 and reason in fake_slack.messages[0]["text"]
    if case == "no_valid_number":
        rejected = load_workbook(job["results_file"])["rejected"]  # the uploader can see why
        assert [[c.value for c in r][:2] for r in rejected.iter_rows(min_row=2)] == [[2, "abc"], [3, salt]]


@pytest.mark.parametrize(
    "case, conf, expected",
    [
        ("missing file", {"file": "nunca-subido.xlsx", "uploader": "ana"}, "'nunca-subido.xlsx' not found"),
        ("escaping path", {"file": "../../etc/x.xlsx", "uploader": "ana"}, "is outside the uploads folder"),
        ("bad number", {"file": "x.xlsx", "uploader": "ana", "batch_size": 0}, "conf.batch_size=0 is outside"),
        ("unset setting", {"file": "x.xlsx", "uploader": "ana"}, "nor scraping_uploads_dir is set"),
    ],
)
def test_failure_before_the_upload_is_read_gets_a_job_row_and_one_alert(
    case, conf, expected, scraping_dags, scraping_dirs, job_repo, fake_slack, monkeypatch
):
    if case == "unset setting":
        monkeypatch.delenv("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR")
    run_conf = {"timeout_minutes": None, "max_retries": None, "batch_size": None, **conf}

    dag_run = scraping_dags["upload"].test(run_conf=run_conf)

    assert dag_run.state == "failed"
    job = job_repo.by_run("scraping_upload", dag_run.run_id)
    assert job is not None, "no job row: the web app would show nothing"
    assert job["status"] == "failed" and job["failure_kind"] == "permanent" and expected in job["last_error"]
    assert job["file_name"] == ("nunca-subido.xlsx" if case == "missing file" else "x.xlsx")
    assert len(fake_slack.messages) == 1 and expected in fake_slack.messages[0]["text"]
    # The row is an ordinary one afterwards: the same run failing again changes nothing, alerts nothing.
    assert job_repo.mark_ended("scraping_upload", dag_run.run_id, "failed", "again") is None
