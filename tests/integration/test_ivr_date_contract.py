"""The date contract through Airflow itself (dag.test: what `airflow dags test D` runs): the day
an operator names is the day loaded, in zones west and east of UTC and far from it, whatever
[core] default_timezone is; any day of history; a run that names no loadable day fails at once,
saying why, instead of going green with nothing loaded."""

from __future__ import annotations

import runpy
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcentre.ivr import synthetic
from tests.integration.ivr_support import ensure_tables, ledger, loaded, make_call, metrics_row, reset_day

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "ivr_calls_daily.py"


def parse_dag(monkeypatch, zone: str, default_zone: str = "UTC"):
    """The DAG as a component configured with IVR_TIMEZONE=zone parses it."""
    monkeypatch.setenv("IVR_TIMEZONE", zone)
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", default_zone)
    monkeypatch.delenv("AIRFLOW_VAR_IVR_TIMEZONE", raising=False)
    ensure_tables()
    dag = runpy.run_path(str(DAG_FILE))["ivr_calls_daily"]()
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
        task.retry_exponential_backoff = 0
    return dag


def states(dag_run):
    return {(ti.task_id, ti.map_index): (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


def edge_calls(day: date, first_id: int) -> list[tuple]:
    """A call one second inside each end of the local day, and one second outside each end."""
    midnight = datetime.combine(day, datetime.min.time())
    return [
        make_call(first_id, midnight - timedelta(seconds=1)),
        make_call(first_id + 1, midnight),
        make_call(first_id + 2, midnight + timedelta(days=1, seconds=-1)),
        make_call(first_id + 3, midnight + timedelta(days=1)),
    ]


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("America/Mexico_City", date(2025, 11, 2)),  # west of UTC; the old runbook's example date
        ("Pacific/Auckland", date(2019, 4, 7)),      # near the date line, years back, a DST day
        ("Asia/Kolkata", date(2024, 2, 29)),         # half-hour offset
        ("Europe/Madrid", date(2025, 3, 30)),        # east of UTC, spring forward
    ],
)
def test_dags_test_of_a_bare_date_loads_exactly_that_local_day(monkeypatch, zone, day):
    """`airflow dags test ivr_calls_daily D` with [core] default_timezone=UTC gives logical date
    D 00:00 UTC; the run loads local day D of the IVR zone, not the day before or after."""
    dag = parse_dag(monkeypatch, zone)
    for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
        reset_day(d)
    try:
        synthetic.write_calls(edge_calls(day, 900_000))
        dag_run = dag.test(logical_date=datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo("UTC")))
        assert dag_run.state == "success"
        assert [r[0] for r in loaded(day)] == [900_001, 900_002]
        assert loaded(day - timedelta(days=1)) == [] and loaded(day + timedelta(days=1)) == []
        assert metrics_row(day)["source_calls"] == 2
    finally:
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            reset_day(d)


def _fails_in_plan(dag_run, message: str, capfd):
    """Before the run waits for its day to close: plan fails, at its first poke and try."""
    assert dag_run.state == "failed"
    task_states = states(dag_run)
    assert task_states[("plan", -1)] == ("failed", 1)  # permanent: no retry spent
    assert not [k for k, (state, _) in task_states.items() if k[0] == "load_hour" and state == "success"]
    out, err = capfd.readouterr()  # the task's log, as the operator reads it
    assert message in out + err


def test_a_day_before_the_first_business_day_fails_loudly(monkeypatch, capfd):
    dag = parse_dag(monkeypatch, "America/Mexico_City")
    monkeypatch.setenv("IVR_FIRST_BUSINESS_DAY", "2020-01-01")
    day = date(2019, 12, 31)
    reset_day(day)
    synthetic.write_calls([make_call(910_000, datetime(2019, 12, 31, 12))])
    try:
        dag_run = dag.test(logical_date=datetime(2019, 12, 31, tzinfo=ZoneInfo("UTC")))
        _fails_in_plan(dag_run, "before the first business day 2020-01-01 (IVR_FIRST_BUSINESS_DAY)", capfd)
        assert loaded(day) == [] and ledger(day) == []
    finally:
        reset_day(day)


def test_a_run_without_a_logical_date_fails_instead_of_loading_today(monkeypatch, capfd):
    dag = parse_dag(monkeypatch, "America/Mexico_City")
    _fails_in_plan(dag.test(logical_date=None), "this run has no logical date", capfd)


def test_a_stale_ivr_timezone_variable_is_refused(monkeypatch, capfd):
    """The zone has one source: a Variable left over from the old setup would shift the day."""
    dag = parse_dag(monkeypatch, "America/Mexico_City")
    monkeypatch.setenv("AIRFLOW_VAR_IVR_TIMEZONE", "UTC")
    _fails_in_plan(dag.test(logical_date=datetime(2025, 11, 2, tzinfo=ZoneInfo("UTC"))),
                   "Variable ivr_timezone='UTC' disagrees with IVR_TIMEZONE='America/Mexico_City'", capfd)


# Days whose local midnight does not exist (clocks jump 00:00 -> 01:00) or happens twice.
MIDNIGHT_GAP = ("America/Santiago", date(2025, 9, 7))
DOUBLE_MIDNIGHT = ("Atlantic/Azores", date(2025, 10, 26))  # Havana's is the e2e test's


def cli_date(text: str, zone: str):
    """The logical date `airflow dags test ivr_calls_daily TEXT` gives with default_timezone=zone."""
    from tests.airflow_compat import parse_typed_date

    return parse_typed_date(text, zone)


def midnight_edge_calls(day: date, first_id: int) -> tuple[list[tuple], set[int]]:
    """Calls one second outside each end of the local day and at its first and last seconds
    (01:00:00 on a day without 00:00; both 00:00 and the repeated 00:30 on a day with two)."""
    midnight = datetime.combine(day, datetime.min.time())
    inside = [midnight, midnight + timedelta(minutes=30), midnight + timedelta(hours=1),
              midnight + timedelta(days=1, seconds=-1)]
    calls = [make_call(first_id, midnight - timedelta(seconds=1)), make_call(first_id + 1, midnight + timedelta(days=1))]
    calls += [make_call(first_id + 2 + n, start) for n, start in enumerate(inside)]
    return calls, {first_id + 2 + n for n in range(len(inside))}


@pytest.mark.parametrize(("zone", "day"), [MIDNIGHT_GAP, DOUBLE_MIDNIGHT])
def test_a_day_without_a_midnight_or_with_two_loads_when_typed_in_the_ivr_zone(monkeypatch, zone, day):
    """`airflow dags test ivr_calls_daily 2025-09-07` with IVR_TIMEZONE and [core] default_timezone
    both America/Santiago (docker-compose's setting): the CLI stamps the run 01:00 -03, the
    instant the day begins. Exactly that local day loads; calls a second either side stay out."""
    dag = parse_dag(monkeypatch, zone, default_zone=zone)
    around = (day - timedelta(days=1), day, day + timedelta(days=1))
    for d in around:
        reset_day(d)
    try:
        calls, inside = midnight_edge_calls(day, 920_000)
        synthetic.write_calls(calls)
        dag_run = dag.test(logical_date=cli_date(day.isoformat(), zone))
        assert dag_run.state == "success"
        assert {r[0] for r in loaded(day)} == inside
        assert loaded(around[0]) == [] and loaded(around[2]) == []
        assert metrics_row(day)["source_calls"] == len(inside)
    finally:
        for d in around:
            reset_day(d)


def test_the_fix_a_date_error_suggests_works_when_typed(monkeypatch, capfd):
    """A logical date that starts no day fails in plan with a command to type instead; typed
    (parsed as the CLI parses it), it loads the day."""
    import re

    zone, day = MIDNIGHT_GAP
    dag = parse_dag(monkeypatch, zone, default_zone=zone)
    reset_day(day)
    try:
        synthetic.write_calls([make_call(930_000, datetime(2025, 9, 7, 12))])
        _fails_in_plan(dag.test(logical_date=cli_date("2025-09-07T12:00:00", zone)),
                            "so it names no business day", capfd)
        # capfd was read by the helper: run again to read the suggestion itself.
        dag = parse_dag(monkeypatch, zone, default_zone=zone)
        dag.test(logical_date=cli_date("2025-09-07T12:00:00", zone))
        out, err = capfd.readouterr()
        suggested = re.search(r"`airflow dags test ivr_calls_daily (\S+)`", out + err).group(1)
        assert suggested == "2025-09-07"
        dag = parse_dag(monkeypatch, zone, default_zone=zone)
        assert dag.test(logical_date=cli_date(suggested, zone)).state == "success"
        assert [r[0] for r in loaded(day)] == [930_000]
    finally:
        reset_day(day)


def test_a_date_typed_between_zones_24_hours_apart_is_refused(monkeypatch, capfd):
    """IVR in Pacific/Apia, CLI in Pacific/Pago_Pago: `dags test ivr_calls_daily 2025-06-15` is
    2025-06-15 00:00 in Pago Pago and 2025-06-16 00:00 in Apia. Refused, naming both readings and
    the form to type; that form loads the day meant."""
    dag = parse_dag(monkeypatch, "Pacific/Apia", default_zone="Pacific/Pago_Pago")
    day = date(2025, 6, 15)
    for d in (day, day + timedelta(days=1)):
        reset_day(d)
    try:
        synthetic.write_calls([make_call(940_000, datetime(2025, 6, 15, 12)), make_call(940_001, datetime(2025, 6, 16, 12))])
        _fails_in_plan(dag.test(logical_date=cli_date("2025-06-15", "Pacific/Pago_Pago")),
                            "the start of 2025-06-16 in Pacific/Apia and the start of 2025-06-15 in Pacific/Pago_Pago", capfd)
        assert loaded(day) == [] and loaded(day + timedelta(days=1)) == []
        dag = parse_dag(monkeypatch, "Pacific/Apia", default_zone="Pacific/Pago_Pago")
        assert dag.test(logical_date=cli_date("2025-06-15T00:00:00+00:00", "Pacific/Pago_Pago")).state == "success"
        assert [r[0] for r in loaded(day)] == [940_000] and loaded(day + timedelta(days=1)) == []
    finally:
        for d in (day, day + timedelta(days=1)):
            reset_day(d)


def test_the_failure_alert_of_a_midnight_gap_day_names_it_and_the_watcher_stays_quiet(monkeypatch, fake_slack):
    from callcentre.ivr import deadline
    from tests.integration.ivr_support import forget_alerts

    zone, day = MIDNIGHT_GAP
    dag = parse_dag(monkeypatch, zone, default_zone=zone)
    reset_day(day)
    forget_alerts(day)
    try:
        synthetic.write_calls([make_call(950_500, datetime(2025, 9, 7, 9), disposition="VOICEMAIL")])
        dag_run = dag.test(logical_date=cli_date(day.isoformat(), zone), run_conf={"invalid_rows": "fail", "hours": [9]})
        assert dag_run.state == "failed"
        [text] = [m["text"] for m in fake_slack.messages]
        assert f"run failed — business date {day}" in text
        due = deadline.deadline_of(day, ZoneInfo(zone), 6) + timedelta(minutes=1)
        summary = deadline.check_deadlines(now=due)
        assert str(day) in summary["reported"] and str(day) not in summary["alerted"]
        assert [m for m in fake_slack.messages if f"business day {day} not loaded" in m["text"]] == []
    finally:
        reset_day(day)
        forget_alerts(day)
