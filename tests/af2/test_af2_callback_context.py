"""Airflow 2.11's DAG failure callback for a run that failed before ``load_hour`` expanded.

2.11 builds the callback's context from the run's last task instance in table order; when that is
the unexpanded ``load_hour``, the context raises NotFullyPopulated and the run's Slack message is
lost (common/airflow2_callback_context.py, installed by the DAG file, works around it). The table
order is PostgreSQL's; the test puts ``load_hour`` last, as PostgreSQL sometimes does.

Runs in the 2.11 leg only (`make test AIRFLOW=2`)."""

from __future__ import annotations

from datetime import date

import pytest

from callcentre.ivr import synthetic
from tests.airflow_compat import dag_test
from tests.integration.ivr_support import at, forget_alerts, local_midnight, make_call, parse_ivr_dag, reset_day

DAY = date(2026, 10, 8)


@pytest.fixture
def failed_before_expanding(fake_slack):
    reset_day(DAY)
    forget_alerts(DAY)
    synthetic.write_calls([make_call(5, at(DAY, 4))])
    dag = parse_ivr_dag()
    dag_run = dag_test(dag, local_midnight(DAY), {"dryrun": True})  # a param typo: plan fails
    yield dag, dag_run
    reset_day(DAY)
    forget_alerts(DAY)


def test_the_failure_callback_gets_a_context_when_load_hour_is_last(failed_before_expanding, monkeypatch):
    from airflow.models.dag import DAG
    from airflow.models.dagrun import DagRun
    from airflow.models.expandinput import NotFullyPopulated

    dag, dag_run = failed_before_expanding
    assert dag_run.state == "failed"
    states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}
    assert states[("plan", -1)] == "failed" and ("load_hour", -1) in states  # never expanded

    table_order = DagRun.get_task_instances
    monkeypatch.setattr(DagRun, "get_task_instances",
                        lambda self, *a, **kw: sorted(table_order(self, *a, **kw), key=lambda ti: ti.task_id == "load_hour"))
    with pytest.raises(NotFullyPopulated):  # what 2.11 itself does with this order
        DAG.fetch_callback.upstream(dag, dag_run.run_id, False, "task_failure")

    callbacks, context = DAG.fetch_callback(dag, dag_run.run_id, False, "task_failure")
    expected = dag.on_failure_callback
    assert callbacks == (expected if isinstance(expected, list) else [expected])
    assert context["ti"].task_id != "load_hour" and context["dag_run"].run_id == dag_run.run_id
    assert context["reason"] == "task_failure"
