"""The alert texts and the deadline arithmetic (no database, no Slack)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from callcentre.ivr import alert_messages, alerts, deadline
from callcentre.ivr.alerts import TaskFailure

DAY = date(2026, 11, 20)


def failure(task_id: str, map_index: int = -1, hour: int | None = None, error: str = "OperationalError: (2003, ...)"):
    return TaskFailure("ivr_calls_daily", "scheduled__x", 0, task_id, map_index, DAY, hour, 5, error, f"http://ui/{task_id}/{map_index}")


def test_the_message_groups_hours_by_task_and_starts_with_the_first_error():
    failures = [failure("load_hour", 13, 13, "OperationalError: (2013, 'Lost connection')"),
                failure("load_hour", 3, 3), failure("reconcile")]
    text = alerts.run_failed_message("ivr_calls_daily", "scheduled__x", "http://ui/run", DAY, "task_failure", failures)
    assert text.splitlines()[0] == ":red_circle: `ivr_calls_daily` run failed — business date 2026-11-20"
    assert "• failed (3): load_hour: hours 03, 13; reconcile" in text
    assert "• first error (load_hour hour 13, try 5): OperationalError: (2013, 'Lost connection')" in text
    assert "    reconcile: http://ui/reconcile/-1" in text
    assert "• last error (reconcile, try 5): OperationalError: (2003, ...)" in text  # another task's own account


def test_one_task_failing_in_several_hours_shows_its_first_error_only():
    text = alerts.run_failed_message("ivr_calls_daily", "scheduled__x", None, DAY, None,
                                     [failure("load_hour", 3, 3), failure("load_hour", 9, 9)])
    assert "first error (load_hour hour 03" in text and "last error" not in text


def test_a_day_long_outage_lists_every_hour_but_links_only_the_first_ten():
    failures = [failure("load_hour", h, h) for h in range(24)]
    text = alerts.run_failed_message("ivr_calls_daily", "scheduled__x", None, DAY, None, failures)
    assert "load_hour: hours " + ", ".join(f"{h:02d}" for h in range(24)) in text
    assert text.count("http://ui/load_hour/") == alert_messages.MAX_LINKS
    assert "… and 14 more in the run's grid" in text


def test_a_run_without_recorded_failures_says_so():
    text = alerts.run_failed_message("ivr_calls_daily", "manual__y", "http://ui/run", None, "timed_out", [])
    assert "business date" not in text.splitlines()[0] and "• reason: timed_out" in text
    assert "no task failure was recorded" in text


def test_errors_lose_phone_numbers():
    assert alerts.clean_error("call_id=7: caller_number='3004445566' breaks rule") == "call_id=7: caller_number='[number]' breaks rule"


def test_the_deadline_is_the_end_of_the_local_day_plus_the_hours():
    mexico = ZoneInfo("America/Mexico_City")  # UTC-6 in November
    due = deadline.deadline_of(DAY, mexico, 6)
    assert due.isoformat() == "2026-11-21T12:00:00+00:00"
    assert DAY in deadline.days_due(due, mexico, 6)
    assert DAY not in deadline.days_due(due - timedelta(seconds=1), mexico, 6)
    assert deadline.days_due(due, mexico, 6) == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]


def test_a_long_deadline_still_reaches_its_day():
    utc = ZoneInfo("UTC")
    due = deadline.deadline_of(DAY, utc, 30)  # 30 h after the day ends
    assert due.isoformat() == "2026-11-22T06:00:00+00:00" and DAY in deadline.days_due(due, utc, 30)


def test_numbers_in_uris_and_labelled_fields_are_scrubbed():
    for text, expected in [
        ("INVITE sip:3001234567@pbx.local failed", "INVITE sip:[number]@pbx.local failed"),
        ("sips:+573001234567@pbx", "sips:[number]@pbx"),
        ("dial tel:+57-300-123-4567 refused", "dial tel:[number] refused"),
        ("msisdn:573001234567 unknown", "msisdn:[number] unknown"),
        ("caller=3001234567, agent=101", "caller=[number], agent=101"),
    ]:
        assert alerts.clean_error(text) == expected
    # Not numbers: dates, run ids, short ids, an IP address, a SIP URI without digits.
    kept = "run scheduled__2026-11-20T00:00:00+00:00 call_id=12345 at 10.0.0.1 via sip:ivr@pbx"
    assert alerts.clean_error(kept) == kept


def test_an_error_is_scrubbed_before_it_is_cut():
    """A number across the cut would leave its first digits: scrub, then cut."""
    from callcentre.common.slack import MAX_ERROR_CHARS, short_error

    prefix = "x" * (MAX_ERROR_CHARS - len("ValueError: ") - 5)
    text = short_error(ValueError(prefix + " 3001234567 and more"))
    assert len(text) <= MAX_ERROR_CHARS and "3001" not in text and "300" not in text.split()[-1]
    assert short_error(ValueError("sip:3001234567@pbx")) == "ValueError: sip:[number]@pbx"


def test_the_deadline_message_gives_a_backfill_command_that_names_the_day(monkeypatch):
    """Typed as given, its bounds name the late day, even where the CLI's zone is 24 hours from
    the IVR's (there a bare date would be refused as ambiguous)."""
    import re

    from tests.airflow_compat import parse_typed_date
    from callcentre.ivr.business_day import resolve_business_date

    for ivr, cli in [("America/Santiago", "America/Santiago"), ("Pacific/Apia", "Pacific/Pago_Pago"), ("UTC", "UTC")]:
        monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", cli)
        day = date(2025, 9, 7)
        text = alert_messages.deadline_message(day, deadline.deadline_of(day, ZoneInfo(ivr), 6), ZoneInfo(ivr), 6)
        typed = re.search(r"(?:--from-date|-s) (\S+)", text).group(1)
        bound = parse_typed_date(typed, cli)
        assert resolve_business_date(bound, tz=ZoneInfo(ivr), default_tz=ZoneInfo(cli), first_day=date(2015, 1, 1),
                                     now=deadline.deadline_of(day, ZoneInfo(ivr), 6)) == day, (ivr, cli, typed)
