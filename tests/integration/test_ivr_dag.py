"""ivr_calls_daily run by Airflow itself (dag.test: the real task runner, XCom, mapping, retries,
callbacks and metadata DB) against real MariaDB and PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import pytest

from callcentre.common import airflow_urls
from callcentre.ivr import synthetic
from tests.airflow_compat import dag_test
from tests.integration.ivr_support import (
    ExtractKiller,
    at,
    forget_alerts,
    ledger,
    loaded,
    loaded_ids,
    local_midnight,
    make_call,
    metrics_row,
    parse_ivr_dag,
    rejected,
    reset_day,
)

DAY = date(2026, 10, 6)


@pytest.fixture
def dag():
    return parse_ivr_dag()


@pytest.fixture
def day():
    reset_day(DAY)
    forget_alerts(DAY)
    yield DAY
    reset_day(DAY)


def run(dag, day, conf=None):
    return dag_test(dag, local_midnight(day), conf)


def task_states(dag_run) -> dict[tuple[str, int], tuple[str, int]]:
    return {(ti.task_id, ti.map_index): (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


def test_a_full_day_twice_gives_identical_rows_and_metrics(dag, day):
    rows = synthetic.day_calls(day, 2000, seed=3, invalid_share=0.01)
    synthetic.write_calls(rows)

    first = run(dag, day)
    assert first.state == "success"
    calls, rejects, metrics = loaded(day), rejected(day), metrics_row(day)
    assert metrics["source_calls"] == 2000 == metrics["total_calls"] + metrics["rejected_calls"]
    assert len(calls) == metrics["total_calls"] and len(rejects) == metrics["rejected_calls"] > 0
    assert sorted({r[0] for r in ledger(day)}) == list(range(24))
    states = task_states(first)
    assert {states[("load_hour", h)][0] for h in range(24)} == {"success"}
    # Each mapped hour is labelled in the UI.
    assert {ti.map_index: ti.rendered_map_index for ti in first.get_task_instances()
            if ti.task_id == "load_hour"} == {h: f"hour {h:02d}" for h in range(24)}

    second = run(dag, day)
    assert second.state == "success"
    assert loaded(day) == calls and rejected(day) == rejects
    again = metrics_row(day)
    assert {k: v for k, v in again.items() if k not in ("computed_by_run_id", "computed_at")} == {
        k: v for k, v in metrics.items() if k not in ("computed_by_run_id", "computed_at")
    }
    assert again["computed_by_run_id"] == second.run_id


def test_hours_param_reprocesses_only_those_hours(dag, day):
    synthetic.write_calls([make_call(1, at(day, 4)), make_call(2, at(day, 9))])
    assert run(dag, day).state == "success"
    assert run(dag, day, {"hours": [9]}).state == "success"
    assert [(h, n) for h, n in _attempts(day).items() if n > 1] == [(9, 2)]


def _attempts(day):
    counts = {}
    for hour, *_ in ledger(day):
        counts[hour] = counts.get(hour, 0) + 1
    return counts


def test_dry_run_writes_nothing(dag, day):
    synthetic.write_calls([make_call(3, at(day, 4)), make_call(4, at(day, 5), duration=-3)])
    dag_run = run(dag, day, {"dry_run": True})
    assert dag_run.state == "success"
    assert loaded(day) == [] and rejected(day) == [] and ledger(day) == [] and metrics_row(day) is None


def test_invalid_params_fail_before_any_work(dag, day):
    synthetic.write_calls([make_call(5, at(day, 4))])
    dag_run = run(dag, day, {"dryrun": True})  # a typo the JSON schema does not catch
    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("plan", -1)] == ("failed", 1)  # before the day's wait; AirflowFailException: no retry
    assert ledger(day) == [] and loaded(day) == []


def test_fail_mode_fails_the_hour_at_once_and_slack_hears_about_it_once(dag, day, fake_slack):
    synthetic.write_calls([make_call(6, at(day, 13)), make_call(7, at(day, 13, 2), disposition="VOICEMAIL")])
    dag_run = run(dag, day, {"invalid_rows": "fail"})

    assert dag_run.state == "failed"
    states = task_states(dag_run)
    failed = [key for key, (state, _) in states.items() if state == "failed"]
    assert failed == [("load_hour", 13)]
    assert states[("load_hour", 13)][1] == 1  # no retry wasted on bad data
    assert loaded(day) == [] or all(r[1] != 13 for r in loaded(day))

    assert len(fake_slack.messages) == 1
    text = fake_slack.messages[0]["text"]
    for expected in ("ivr_calls_daily", dag_run.run_id, f"business date {day}", "hour 13", "load_hour",
                     "try 1", "call_id=7", "disposition_unknown", airflow_urls.dag_run_url("ivr_calls_daily", dag_run.run_id)):
        assert expected in text, f"{expected!r} missing from the Slack alert"
    source = json.loads(os.environ["AIRFLOW_CONN_IVR_MARIADB"])
    assert source["password"] not in text


def test_a_slack_outage_does_not_change_the_outcome(dag, day, fake_slack):
    fake_slack.fail_with = 503
    synthetic.write_calls([make_call(8, at(day, 13)), make_call(9, at(day, 13, 2), duration=None)])
    dag_run = run(dag, day, {"invalid_rows": "fail"})
    assert dag_run.state == "failed"
    assert task_states(dag_run)[("load_hour", 13)] == ("failed", 1)
    assert task_states(dag_run)[("load_hour", 12)][0] == "success"
    assert fake_slack.messages == []


def test_source_outage_mid_run_is_retried_and_nothing_is_lost_or_doubled(dag, day):
    big_hour = [make_call(300_000 + i, at(day, 10) + timedelta(seconds=i % 3600)) for i in range(30_000)]
    synthetic.write_calls(big_hour + [make_call(10, at(day, 3)), make_call(11, at(day, 22))])

    with ExtractKiller() as killer:
        dag_run = run(dag, day, {"chunk_size": 200})

    assert killer.killed, "the extract query was never seen running"
    assert dag_run.state == "success"
    attempts = ledger(day)
    failed = [a for a in attempts if a[2] == "failed"]
    assert len(failed) == 1 and failed[0][1] == 1
    retried_hour = failed[0][0]
    assert [a[1:3] for a in attempts if a[0] == retried_hour] == [(1, "failed"), (2, "success")]
    calls = loaded(day)
    assert len(calls) == len({r[0] for r in calls}) == 30_002
    assert metrics_row(day)["source_calls"] == 30_002


def test_a_day_the_source_holds_no_calls_for_is_never_a_green_run(dag, day):
    """Nothing in the source (the IVR or its replica late, the wrong database): reconcile fails,
    transiently, and writes no metrics; its retry loads the calls once they are there. An operator
    accepts a day that really had none with min_calls=0."""
    from functools import partial

    from callcentre.ivr import reconcile
    from callcentre.ivr.business_day import HOURS
    from callcentre.ivr.load import load_hour

    reload_hour = partial(load_hour, day, tz_name="UTC", run_id="late")
    with pytest.raises(reconcile.SourceEmpty, match=r"holds 0 calls for 2026-10-06, fewer than min_calls=1"):
        reconcile.gate_and_publish(day, HOURS, 0.05, "late", reload_hour=reload_hour)
    assert metrics_row(day) is None

    synthetic.write_calls([make_call(7, at(day, 9)), make_call(8, at(day, 17))])  # the day arrives
    assert reconcile.gate_and_publish(day, HOURS, 0.05, "late", reload_hour=reload_hour).total_calls == 2
    assert loaded_ids(day) == {7, 8}

    reset_day(day)
    dag_run = run(dag, day, {"min_calls": 0})
    assert dag_run.state == "success" and metrics_row(day)["total_calls"] == 0


def test_a_rerun_after_the_ivr_purged_the_day_keeps_the_loaded_calls(dag, day, fake_slack):
    """A backfill past the IVR's retention: each emptied hour fails at once (no retry spent), every
    stored call and the day's metrics stay, one Slack message says why; min_calls=0 empties the day
    on purpose."""
    from tests.integration.ivr_support import source_execute

    synthetic.write_calls([make_call(50, at(day, 6)), make_call(51, at(day, 18))])
    assert run(dag, day).state == "success"
    source_execute("DELETE FROM calls WHERE call_id IN (50, 51)")

    dag_run = run(dag, day)

    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("load_hour", 6)] == states[("load_hour", 18)] == ("failed", 1)
    assert states[("load_hour", 7)][0] == "success"
    assert loaded_ids(day) == {50, 51} and metrics_row(day)["total_calls"] == 2
    assert len(fake_slack.messages) == 1
    assert "the IVR deleted or purged them" in fake_slack.messages[0]["text"]

    assert run(dag, day, {"min_calls": 0}).state == "success"
    assert loaded_ids(day) == set() and metrics_row(day)["total_calls"] == 0
