"""Airflow DAG, one run per uploaded Excel file: read the phone numbers, look them up in batches, write the results.

Triggered by the web app or ``scripts/trigger_upload.py`` (REST: ``POST /api/v2/dags/scraping_upload/dagRuns``
with ``dag_run_id = upload__<sha256[:16]>`` and ``conf = {"file", "uploader"}``). The job row in
``scraping.jobs`` follows the run; see docs/scraping.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callcentre.common.assets import SCRAPING_RESULTS, announce_results
from callcentre.common.compat import Param, dag, get_current_context, task
from callcentre.scraping import config, pipeline
from callcentre.scraping.notify import job_completed, job_failed_for_good
from callcentre.scraping.pipeline import LookupBatchSensor, on_task_failure, on_task_retry, on_task_start


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=8,
    dagrun_timeout=config.DAGRUN_TIMEOUT,
    tags=["scraping"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": config.DEFAULTS["max_retries"],
        "retry_delay": config.retry_delay(),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": timedelta(minutes=10),
        "on_execute_callback": on_task_start,
        "on_retry_callback": on_task_retry,
        "on_failure_callback": [on_task_failure, job_failed_for_good],  # the job's outcome, then its uploader told
    },
    params={
        "file": Param(type="string", minLength=1, description="Stored upload, relative to the uploads folder"),
        "uploader": Param(type="string", minLength=1, description="Who uploaded the file"),
        "timeout_minutes": Param(None, type=["null", "number"], description="Default: scraping_timeout_minutes"),
        "max_retries": Param(None, type=["null", "integer"], description="Default: scraping_max_retries"),
        "batch_size": Param(None, type=["null", "integer"], description="Numbers per API call (default 250)"),
        "notify_email": Param(None, type=["null", "string"], description="Email this address when the job ends"),
        "notify": Param(True, type="boolean", description="false: no email for this upload"),
    },
)
def scraping_upload():
    @task
    def register_job() -> int:
        """Create the job row (status pending) for this upload; skip the run if the file was already uploaded."""
        return pipeline.register_job(get_current_context())

    @task
    def read_numbers(job_id: int) -> list[dict]:
        """Read and normalise the phone numbers; a bad workbook fails the job at once with the reason."""
        return pipeline.read_numbers(job_id)

    @task(outlets=[SCRAPING_RESULTS])
    def write_results(job_id: int) -> dict:
        """Write the results workbook (answers + rejected rows) and mark the job completed; the asset
        event scraping_results_workbook names the job."""
        context = get_current_context()
        written = announce_results(context, pipeline.write_results_workbook(job_id))
        job_completed(context)
        return written

    job_id = register_job()
    batches = read_numbers(job_id)
    answers = LookupBatchSensor.partial(
        task_id="lookup_batch",
        pool="scraping_api",
        mode="reschedule",
        poke_interval=config.poke_seconds(),
        retries=config.RETRIES_CAP,
    ).expand(batch=batches)
    answers >> write_results(job_id)


scraping_upload()
