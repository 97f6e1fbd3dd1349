"""What the tasks of DAG ``scraping_upload`` do (the batch task is :class:`LookupBatchSensor`), and the
callbacks that keep the job row in step.

A failure no task retry can fix raises an ``AirflowFailException``: :class:`PermanentJobFailure`
for bad input (never retried) or :class:`RetryableJobFailure` for an outside failure (the automatic
retry re-runs the job later); anything else is left to Airflow's task retries (docs/scraping.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

from callcentre.common import compat, run_context, storage, variables
from callcentre.common.alerting import is_final_failure
from callcentre.common.compat import (
    AirflowFailException, AirflowSensorTimeout, AirflowSkipException, AirflowTaskTimeout, BaseSensorOperator,
    PokeReturnValue,
)
from callcentre.common.slack import scrub_numbers, short_error
from callcentre.scraping import config, notify
from callcentre.scraping.api_hook import ScrapingApiHook, ScrapingApiUnavailable
from callcentre.scraping.jobs import UNREADABLE_UPLOAD_PATH, JobRepository, repository
from callcentre.scraping.upload import file_sha256
from callcentre.scraping.workbook import BadWorkbook, RejectedRow, read_phone_numbers, write_results

log = logging.getLogger(__name__)


class PermanentJobFailure(AirflowFailException):
    """Bad input (workbook, conf, API 4xx, a missing setting): the job fails and is never retried automatically."""


class RetryableJobFailure(AirflowFailException):
    """Final for this run, but a later re-run of the job may succeed (the automatic retry does it)."""


class JobTimedOut(RetryableJobFailure):
    """The job ran past its timeout_minutes: the job ends ``timeout``."""


def failure_kind(error) -> str:
    """An AirflowFailException other than RetryableJobFailure is a refusal (bad input, the API's 4xx,
    a setting missing): ``permanent``. Anything else, timeouts included, may pass on a later run."""
    if isinstance(error, AirflowFailException) and not isinstance(error, RetryableJobFailure):
        return "permanent"
    return "retryable"


def _run_ids(context) -> tuple[str, str]:
    dag_run = context["dag_run"]
    return dag_run.dag_id, dag_run.run_id


def register_job(context) -> int:
    """Register this upload's job; a duplicate upload skips the run. An unreadable upload still gets
    its row, so it shows in the job list and is alerted once (by the failure callback)."""
    repo = repository()
    dag_id, run_id = _run_ids(context)
    try:
        settings = config.resolve_settings(dict(context["params"]), variables.get_variable)
        path = storage.child(storage.folder("uploads"), settings.upload, "uploads")
        content_sha256 = file_sha256(path)
    except (config.BadRunConf, storage.StorageError, OSError) as err:
        if isinstance(err, (config.BadRunConf, storage.StorageError)):
            message = str(err)
        elif isinstance(err, FileNotFoundError):
            message = f"upload {settings.upload!r} not found in the uploads folder"
        else:
            message = f"upload {settings.upload!r} unreadable ({type(err).__name__})"
        register_unreadable_upload(repo, context)
        raise PermanentJobFailure(message) from err
    job, created = repo.register(
        file_name=_display_name(path), upload_path=storage.url(path), content_sha256=content_sha256,
        uploader=settings.uploader, dag_id=dag_id, run_id=run_id, timeout_minutes=settings.timeout_minutes,
        max_retries=settings.max_retries, batch_size=settings.batch_size,
        clear_number=run_context.run_attempt_of(context["dag_run"]),
    )
    if not created and (job["dag_id"], job["airflow_run_id"]) != (dag_id, run_id):
        raise AirflowSkipException(
            f"duplicate upload: the same file is job #{job['id']} ({job['status']}, run {job['airflow_run_id']}); "
            "nothing new to do"
        )
    notify.remember_recipient(repo, job["id"], dict(context["dag_run"].conf or {}))
    log.info("job #%s registered for %s (%s)", job["id"], scrub_numbers(job["file_name"]),
             "new" if created else "existing")
    return int(job["id"])


def register_unreadable_upload(repo: JobRepository, context) -> None:
    """The job row of a run that failed before it could read its upload (defaults for bad values)."""
    dag_id, run_id = _run_ids(context)
    params = dict(context.get("params") or {})
    conf_file = str(params.get("file") or "")

    def setting(name):  # the run's value when usable, else the configured default, else the built-in one
        low, high = config.LIMITS[name]
        for value in (params.get(name), lambda: config.default_of(name, variables.get_variable)):
            try:
                value = type(config.DEFAULTS[name])(value() if callable(value) else value)
            except Exception:  # noqa: BLE001 - None, junk, or a Variable that cannot be read
                continue
            if low <= value <= high:
                return value
        return config.DEFAULTS[name]

    file_name = scrub_numbers(_display_name(Path(conf_file)) if conf_file else "")
    repo.register(
        file_name=file_name[:300] or "(no file)", upload_path=UNREADABLE_UPLOAD_PATH,
        content_sha256=hashlib.sha256(f"unreadable upload {dag_id}/{run_id}".encode()).hexdigest(),
        uploader=scrub_numbers(str(params.get("uploader") or ""))[:200] or "(unknown)", dag_id=dag_id, run_id=run_id,
        max_retries=setting("max_retries"), timeout_minutes=setting("timeout_minutes"), batch_size=setting("batch_size"),
    )


def read_numbers(job_id: int) -> list[dict]:
    """Read the workbook, store the numbers as batches; return one ``{job_id, batch_no}`` per batch."""
    repo = repository()
    job = repo.get(job_id)
    try:
        with storage.local_copy(job["upload_path"]) as upload:  # any worker, any storage
            phones = read_phone_numbers(upload, name=job["file_name"])
    except BadWorkbook as err:
        raise PermanentJobFailure(str(err)) from err
    rejected = [{"row": r.row, "value": r.value, "reason": r.reason} for r in phones.rejected]
    repo.set_numbers(job_id, len(phones.numbers), rejected, phones.source)
    log.info(
        "job #%s: %d numbers, %d duplicates dropped, %d rows rejected (%s)",
        job_id, len(phones.numbers), phones.duplicates, len(rejected), scrub_numbers(phones.source),
    )
    if not phones.numbers:
        path = _write_results_file(job, [], phones.rejected, phones.source)
        repo.set_results_file(job_id, storage.url(path))
        raise PermanentJobFailure(
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


class LookupBatchSensor(BaseSensorOperator):
    """Submit batch ``batch_no`` of job ``job_id`` to the lookup API and wait for its answers.

    The lookup id is stored the moment the API accepts the batch, so no poke or retry submits it
    twice (the API also de-duplicates on the reference). Transient API errors are counted in
    ``scraping.batches``, not taken from the try number, so a try a scheduler race burns
    (apache/airflow#71172) costs the job nothing; past the job's ``max_retries`` the batch gives up.
    """

    template_fields = ("batch",)
    ui_color = "#e8f4fd"

    def __init__(self, *, batch: dict, **kwargs) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", config.poke_seconds())
        kwargs.setdefault("timeout", config.DAGRUN_TIMEOUT.total_seconds())
        super().__init__(**kwargs)
        self.batch = batch

    def poke(self, context) -> bool | PokeReturnValue:
        job_id, batch_no = int(self.batch["job_id"]), int(self.batch["batch_no"])
        repo = repository()
        job = repo.get(job_id)
        batch = repo.batch(job_id, batch_no)
        if batch["status"] == "done":
            return PokeReturnValue(True, len(batch["results"] or []))
        clear_number = run_context.run_attempt_of(context["dag_run"])
        if batch["status"] == "failed":
            if clear_number <= batch["clear_number"]:
                raise RetryableJobFailure(f"the API could not process batch {batch_no} (answer already recorded)")
            # The API gave up on it before the run was cleared: submit it again under a new reference.
            repo.renew_failed_batch(job_id, batch_no, f"{re.sub(r'-c[0-9]+$', '', batch['reference'])}-c{clear_number}")
            batch = repo.batch(job_id, batch_no)
        if job["deadline"] and datetime.now(timezone.utc) > job["deadline"]:
            raise JobTimedOut(
                f"job #{job_id} passed its timeout of {job['timeout_minutes']:g} minutes "
                f"(batch {batch_no} still {batch['status']} at the API)"
            )
        hook = ScrapingApiHook()
        try:
            lookup_id = batch["lookup_id"]
            if not lookup_id:
                lookup_id = hook.submit_lookup(batch["reference"], list(batch["numbers"]))
                repo.record_submission(job_id, batch_no, lookup_id)
            lookup = hook.get_lookup(lookup_id)
        except ScrapingApiUnavailable as err:
            errors = repo.count_api_error(job_id, batch_no, clear_number)
            if errors > int(job["max_retries"]):
                raise RetryableJobFailure(f"gave up after {errors - 1} retries: {err}") from err
            raise
        if lookup.status == "failed":
            repo.record_results(job_id, batch_no, "failed", None, clear_number)
            raise RetryableJobFailure(f"the API could not process batch {batch_no}: {lookup.error or 'no reason given'}")
        if lookup.status != "done":
            self.log.info("batch %s of job #%s: lookup %s is %s", batch_no, job_id, lookup_id, lookup.status)
            return False
        answered = {str(answer.get("number")) for answer in lookup.results if isinstance(answer, dict)}
        missing = [n for n in batch["numbers"] if n not in answered]
        if missing:
            repo.record_results(job_id, batch_no, "failed", None, clear_number)
            raise RetryableJobFailure(
                f"the API answered {len(batch['numbers']) - len(missing)} of {len(batch['numbers'])} numbers "
                f"of batch {batch_no}: the batch is submitted again when the job is retried"
            )
        repo.record_results(job_id, batch_no, "done", lookup.results, clear_number)
        self.log.info("batch %s of job #%s: %d answers", batch_no, job_id, len(lookup.results))
        return PokeReturnValue(True, len(lookup.results))


def write_results_workbook(job_id: int) -> dict:
    """Write the results workbook and mark the job ``completed``."""
    repo = repository()
    job = repo.get(job_id)
    results = repo.results_of(job_id)
    rejected = [RejectedRow(**r) for r in repo.rejected_of(job_id)]
    path = _write_results_file(job, results, rejected, job["source_sheet"])
    if repo.mark_completed(job_id, len(results), storage.url(path)) is None:
        # A person marked it timeout (or it failed) meanwhile: that outcome, already reported, stands.
        log.warning("job #%s is %s: results written to %s, completion not recorded",
                    job_id, repo.get(job_id)["status"], scrub_numbers(path.name))
    else:
        log.info("job #%s completed: %d results, %d rejected rows -> %s", job_id, len(results), len(rejected),
                 scrub_numbers(path.name))
    return {"job_id": job_id, "processed_numbers": len(results), "results_file": storage.url(path)}


def _write_results_file(job: dict, results: list[dict], rejected: list[RejectedRow], source: str | None) -> Path:
    try:
        results_dir = storage.folder("results")
    except storage.StorageError as err:
        raise PermanentJobFailure(str(err)) from err
    path = results_dir / f"job{int(job['id']):06d}_{Path(job['file_name']).stem[:80]}_results.xlsx"
    with storage.local_target(path) as local:
        write_results(local, results, rejected, source=[
            ("file", job["file_name"]), ("read from", source or "(not recorded)"), ("job", str(job["id"]))])
    return path


def _display_name(path: Path) -> str:
    """The name the uploader gave the file (the upload command stores ``<sha16>__<name>``)."""
    name = path.name
    prefix, sep, rest = name.partition("__")
    return rest if sep and len(prefix) == 16 else name


# Callbacks: best effort, as a callback that raises would hide the task's own outcome.
def on_task_start(context) -> None:
    """Any task starting (or a batch waking up to poll again) means the job is ``processing``."""
    try:
        dag_id, run_id = _run_ids(context)
        repository().mark_processing(dag_id, run_id, run_context.run_attempt_of(context["dag_run"]))
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job processing (the reconcile DAG will catch up)")


def on_task_retry(context) -> None:
    try:
        dag_id, run_id = _run_ids(context)
        error = context.get("exception")
        # A retry the scheduler decided on its own (apache/airflow#71172) has no exception to record.
        job = repository().mark_retrying(dag_id, run_id, error_text(error) if isinstance(error, BaseException) else None)
        if job:
            log.info("job #%s retrying (Airflow task retry %s in this run)", job["id"], job["task_retries"])
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job retrying")


def on_task_failure(context) -> None:
    """A task failed for good: the job ends ``failed`` or ``timeout``; Slack hears once, when final.
    A failure the task did not raise (apache/airflow#71172) is left to the reconcile DAG."""
    try:
        dag_id, run_id = _run_ids(context)
        if not is_final_failure(context, (AirflowFailException, AirflowSensorTimeout), unraised_counts=False):
            log.warning("failure callback of a task that is not finished for good (try %s); job left as it is",
                        int(context["ti"].try_number))
            return
        error = context.get("exception")
        timed_out = isinstance(error, (JobTimedOut, AirflowSensorTimeout, AirflowTaskTimeout))
        status = "timeout" if timed_out else "failed"
        repo = repository()
        if repo.by_run(dag_id, run_id) is None:  # it failed before register_job wrote the row
            register_unreadable_upload(repo, context)
        job = repo.mark_ended(dag_id, run_id, status, error_text(error), failure_kind(error))
        if job and not notify.alert_if_final(repo, job):
            log.info("job #%s %s (%s); retry %s of %s follows automatically", job["id"], status,
                     job["failure_kind"], job["retry_count"] + 1, job["max_retries"])
    except Exception:  # noqa: BLE001
        log.exception("could not mark the job ended (the reconcile DAG will catch up)")


def error_text(error: BaseException) -> str:
    text = str(error) if isinstance(error, AirflowFailException) and str(error) else short_error(error)
    return scrub_numbers(compat.redact(text))[:2000]
