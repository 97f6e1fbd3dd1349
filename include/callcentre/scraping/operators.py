"""The batch task: submit one batch once, then poll it without holding a worker slot."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from callcentre.common import run_context
from callcentre.common.compat import BaseSensorOperator, PokeReturnValue
from callcentre.scraping import config


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
        from callcentre.scraping.api_hook import ScrapingApiHook, ScrapingApiUnavailable
        from callcentre.scraping.jobs import repository
        from callcentre.scraping.pipeline import JobTimedOut, RetryableJobFailure

        job_id, batch_no = int(self.batch["job_id"]), int(self.batch["batch_no"])
        repo = repository()
        job = repo.get(job_id)
        batch = repo.batch(job_id, batch_no)
        if batch["status"] == "done":
            return PokeReturnValue(True, len(batch["results"] or []))
        clear_number = run_context.clear_number_of(context)
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
