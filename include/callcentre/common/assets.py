"""The data products other DAGs can be scheduled on (Airflow Assets; Datasets on 2.x): one per
product, not per day or job; the event's ``extra`` names the day or job (docs/ivr.md, docs/scraping.md)."""

from __future__ import annotations

from callcentre.common import compat

# A business day was loaded (or reloaded) and its analytics.daily_metrics row written.
IVR_DAY_LOADED = compat.asset("ivr_day_loaded", "callcentre://analytics/daily_metrics")
# A scraping job's results workbook was written.
SCRAPING_RESULTS = compat.asset("scraping_results_workbook", "callcentre://scraping/results")


def announce_day(context, metrics: dict | None) -> dict | None:
    """Name the day in the event ``reconcile`` emits once it wrote the day's metrics; a dry run wrote
    none, so its task is skipped and no event is emitted (a consumer must not run on a day that was not loaded)."""
    if metrics is None:
        raise compat.AirflowSkipException("dry run: analytics.daily_metrics unchanged, no asset event")
    context["outlet_events"][IVR_DAY_LOADED].extra = {
        "business_date": metrics["metric_date"], "source_calls": metrics["source_calls"],
        "total_calls": metrics["total_calls"], "rejected_calls": metrics["rejected_calls"],
        "run_id": context["run_id"],
    }
    return metrics


def announce_results(context, written: dict) -> dict:
    """Name the job in the event of its results workbook (its path, which may carry a phone number
    in the uploaded file's name, stays in scraping.jobs.results_file)."""
    context["outlet_events"][SCRAPING_RESULTS].extra = {
        "job_id": written["job_id"], "processed_numbers": written["processed_numbers"]}
    return written
