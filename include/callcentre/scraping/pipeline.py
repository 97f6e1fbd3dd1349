"""What the tasks of DAG ``scraping_upload`` do, and the callbacks that keep the job row in step.

The DAG file only wires these together. Errors follow one rule: a problem no retry can fix (bad
workbook, bad conf, API 4xx, timeout) raises ``AirflowFailException``; anything else is transient
and left to Airflow's retries with exponential backoff.
"""

from __future__ import annotations

import logging
from pathlib import Path

from callcentre.common import compat, storage
from callcentre.common.compat import AirflowFailException, AirflowSkipException
from callcentre.common.slack import short_error
from callcentre.scraping import config
from callcentre.scraping.alerts import alert_job_ended, scrub_numbers
from callcentre.scraping.jobs import JobRepository
from callcentre.scraping.upload import file_sha256
from callcentre.scraping.workbook import BadWorkbook, read_phone_numbers

log = logging.getLogger(__name__)


class JobTimedOut(AirflowFailException):
    """The job ran past its timeout_minutes: the job ends ``timeout`` and is not retried."""


def repository() -> JobRepository:
    return JobRepository()


def _run_ids(context) -> tuple[str, str]:
    dag_run = context["dag_run"]
    return dag_run.dag_id, dag_run.run_id


# Tasks ---------------------------------------------------------------------------------------
def register_job(context) -> int:
    """Create the job table if needed and register this upload; a duplicate upload skips the run."""
    try:
        settings = config.resolve_settings(dict(context["params"]), compat.get_variable)
        path = storage.child(storage.folder("uploads"), settings.upload, "uploads")
        content_sha256 = file_sha256(path)
    except (config.BadRunConf, storage.StorageError) as err:
        raise AirflowFailException(str(err)) from err
    except FileNotFoundError as err:
        raise AirflowFailException(f"upload {settings.upload!r} not found in the uploads folder") from err
    repo = repository()
    repo.migrate()
    dag_id, run_id = _run_ids(context)
    job, created = repo.register(
        file_name=_display_name(path),
        upload_path=storage.url(path),
        content_sha256=content_sha256,
        uploader=settings.uploader,
        dag_id=dag_id,
        run_id=run_id,
        timeout_minutes=settings.timeout_minutes,
        max_retries=settings.max_retries,
        batch_size=settings.batch_size,
        clear_number=compat.clear_number_of(context),
    )
    if not created and (job["dag_id"], job["airflow_run_id"]) != (dag_id, run_id):
        raise AirflowSkipException(
            f"duplicate upload: the same file is job #{job['id']} ({job['status']}, run {job['airflow_run_id']}); "
            "nothing new to do"
        )
    log.info("job #%s registered for %s (%s)", job["id"], job["file_name"], "new" if created else "existing")
    return int(job["id"])


def read_numbers(job_id: int) -> list[dict]:
    """Read the workbook, store the numbers as batches; return one ``{job_id, batch_no}`` per batch."""
    repo = repository()
    job = repo.get(job_id)
    try:
        with storage.local_copy(job["upload_path"]) as upload:  # any worker, any storage
            phones = read_phone_numbers(upload, name=job["file_name"])
    except BadWorkbook as err:
        raise AirflowFailException(str(err)) from err
    rejected = [{"row": r.row, "value": r.value, "reason": r.reason} for r in phones.rejected]
    repo.set_numbers(job_id, len(phones.numbers), rejected)
    log.info(
        "job #%s: %d numbers, %d duplicates dropped, %d rows rejected (column %s)",
        job_id, len(phones.numbers), phones.duplicates, len(rejected), phones.column_header or "first",
    )
    if not phones.numbers:
        path = results_path(job)
        from callcentre.scraping.results import write_results

        with storage.local_target(path) as local:
            write_results(local, [], phones.rejected)
        repo.set_results_file(job_id, storage.url(path))
        raise AirflowFailException(
            f"{job['file_name']}: no valid phone number in {phones.data_rows} rows; "
            f"the rejected sheet of {path.name} lists them"
        )
    size = int(job["batch_size"])
    digest = job["content_sha256"][:16]
    chunks = [phones.numbers[i : i + size] for i in range(0, len(phones.numbers), size)]
    batch_nos = repo.save_batches(
        job_id, [(f"scr-{digest}-n{size}-b{no:04d}", chunk) for no, chunk in enumerate(chunks)]
    )
    return [{"job_id": job_id, "batch_no": no} for no in batch_nos]


def write_results_workbook(job_id: int) -> dict:
    """Write the results workbook and mark the job ``completed``."""
    from callcentre.scraping.results import write_results
    from callcentre.scraping.workbook import RejectedRow

    repo = repository()
    job = repo.get(job_id)
    results = repo.results_of(job_id)
    rejected = [RejectedRow(**r) for r in repo.rejected_of(job_id)]
    path = results_path(job)
    with storage.local_target(path) as local:
        write_results(local, results, rejected)
    repo.mark_completed(job_id, len(results), storage.url(path))
    log.info("job #%s completed: %d results, %d rejected rows -> %s", job_id, len(results), len(rejected), path.name)
    return {"job_id": job_id, "processed_numbers": len(results), "results_file": storage.url(path)}


def results_path(job: dict) -> Path:
    try:
        results_dir = storage.folder("results")
    except storage.StorageError as err:
        raise AirflowFailException(str(err)) from err
    stem = Path(job["file_name"]).stem[:80]
    return results_dir / f"job{int(job['id']):06d}_{stem}_results.xlsx"


def _display_name(path: Path) -> str:
    """The name the uploader gave the file (the upload command stores ``<sha16>__<name>``)."""
    name = path.name
    prefix, sep, rest = name.partition("__")
    return rest if sep and len(prefix) == 16 else name


# Callbacks (best effort: a callback that raises would hide the task's own outcome) ---------------
def on_task_start(context) -> None:
    """Any task starting (or a batch waking up to poll again) means the job is ``processing``."""
    try:
        dag_id, run_id = _run_ids(context)
        repository().mark_processing(dag_id, run_id, compat.clear_number_of(context))
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job processing (the reconcile DAG will catch up)")


def on_task_retry(context) -> None:
    try:
        dag_id, run_id = _run_ids(context)
        job = repository().mark_retrying(dag_id, run_id, error_text(context.get("exception")))
        if job:
            log.info("job #%s retrying (retry_count=%s)", job["id"], job["retry_count"])
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job retrying")


def on_task_failure(context) -> None:
    """A task failed for good: the job ends ``failed`` (or ``timeout``) and Slack hears once."""
    try:
        error = context.get("exception")
        status = "timeout" if is_timeout(error) else "failed"
        dag_id, run_id = _run_ids(context)
        job = repository().mark_ended(dag_id, run_id, status, error_text(error))
        if job:
            alert_job_ended(job)
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job ended (the reconcile DAG will catch up)")


def is_timeout(error) -> bool:
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowTaskTimeout

    return isinstance(error, (JobTimedOut, AirflowSensorTimeout, AirflowTaskTimeout))


def error_text(error) -> str:
    if error is None:
        return "(no exception recorded)"
    text = str(error) if isinstance(error, AirflowFailException) and str(error) else short_error(error)
    return scrub_numbers(compat.redact(text))[:2000]
