"""Which failures of a job the automatic retry may re-run, and which callbacks are not failures at all.

Two kinds of final failure (``scraping.jobs.failure_kind``):

* ``permanent``: the input is wrong (bad workbook, bad conf, the API refused the request with a
  4xx, a setting is missing). Re-running the same file cannot help: never retried automatically.
* ``retryable``: the outside world failed (API down after the run's own retries, the API failed a
  batch or answered short, the job timed out, a worker was lost). The automatic retry re-runs it.

Both are ``AirflowFailException``s: Airflow does not spend task retries on them.
"""

from __future__ import annotations

from callcentre.common.compat import AirflowFailException


class PermanentJobFailure(AirflowFailException):
    """Bad input: the job fails now and is never retried automatically."""


class RetryableJobFailure(AirflowFailException):
    """Final for this run, but a later re-run of the job may succeed (the automatic retry does it)."""


class JobTimedOut(RetryableJobFailure):
    """The job ran past its timeout_minutes: the job ends ``timeout``."""


def failure_kind(error) -> str:
    """``permanent`` or ``retryable`` for the exception that ended a job."""
    from callcentre.scraping.api_hook import ScrapingApiRejected

    if isinstance(error, (PermanentJobFailure, ScrapingApiRejected)):
        return "permanent"
    if isinstance(error, RetryableJobFailure) or is_timeout(error):
        return "retryable"
    # Another AirflowFailException is a refusal by our own checks (a setting missing, ...).
    return "permanent" if isinstance(error, AirflowFailException) else "retryable"


def is_timeout(error) -> bool:
    from callcentre.common.compat import timeout_exceptions

    return isinstance(error, (JobTimedOut, *timeout_exceptions()))


def ends_the_task(context) -> bool:
    """Whether a failure callback reports a task that really failed for good: the shared rule
    (:func:`callcentre.common.alerting.is_final_failure`) with the scraping's permanent errors.

    A failure the task did not raise never ends the job here: apache/airflow#71172 (the scheduler
    fails a reschedule-mode sensor on a late executor event of an earlier poke) would end it for
    nothing; on its last try the run fails and the reconcile DAG ends the job from the run's state.
    """
    from callcentre.common.alerting import is_final_failure
    from callcentre.common.compat import timeout_exceptions

    return is_final_failure(context, (AirflowFailException, timeout_exceptions()[0]), unraised_counts=False)
