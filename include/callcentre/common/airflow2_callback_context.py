"""Airflow 2.11 only: a DAG failure callback's context for a run whose mapped task never expanded.

``install()`` is called by the one DAG that needs it (dags/ivr_calls_daily.py) while it is parsed;
nothing is patched on import, and nothing at all on Airflow 3.
"""

from __future__ import annotations

from callcentre.common.compat import IS_AIRFLOW_2


def install() -> None:
    """2.11's ``DAG.fetch_callback`` builds the context from ``tis[-1]`` (no ORDER BY): when a run
    failed before a mapped task expanded, that can be the unexpanded ``load_hour``, whose context
    raises NotFullyPopulated (``dag.test()`` fails, a scheduler loses the failure message). Only
    then, the context comes from the last other task instance. Idempotent."""
    if not IS_AIRFLOW_2:
        return
    from airflow.models.dag import DAG
    from airflow.models.expandinput import NotFullyPopulated
    from airflow.models.mappedoperator import MappedOperator
    from airflow.utils.session import NEW_SESSION, provide_session
    from airflow.utils.state import TaskInstanceState

    upstream = DAG.fetch_callback
    if getattr(upstream, "callcentre_patched", False):
        return

    @provide_session
    def fetch_callback(dag, dag_run_id, success=True, reason=None, *, session=NEW_SESSION):
        try:
            return upstream(dag, dag_run_id, success, reason, session=session)
        except NotFullyPopulated:
            callbacks = dag.on_success_callback if success else dag.on_failure_callback
            dagrun = DAG.fetch_dagrun(dag_id=dag.dag_id, run_id=dag_run_id, session=session)
            tis = [ti for ti in dagrun.get_task_instances(session=session)
                   if ti.state != TaskInstanceState.REMOVED
                   and not (ti.map_index < 0 and isinstance(dag.get_task(ti.task_id), MappedOperator))]
            ti = tis[-1]
            ti.task = dag.get_task(ti.task_id)
            context = ti.get_template_context(session=session)
            context["reason"] = reason
            return (callbacks if isinstance(callbacks, list) else [callbacks]), context

    fetch_callback.callcentre_patched = True
    fetch_callback.upstream = upstream
    DAG.fetch_callback = staticmethod(fetch_callback)
