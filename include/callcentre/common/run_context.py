"""What a task or a DAG callback reads from its Airflow context and its DAG run."""

from __future__ import annotations

from itertools import takewhile

from callcentre.common.compat import IS_AIRFLOW_2


def logical_date_of(context):
    """The run's logical date; None for a 3.x run created without one (no fallback: such a run
    names no day, and ``run_after`` would silently pick today)."""
    return context.get("logical_date") or getattr(context.get("dag_run"), "logical_date", None)


def dated_by_timetable(context) -> bool:
    """Whether the run's logical date came from the DAG's timetable (a scheduled or backfill run,
    cleared or not), rather than typed by an operator (``dags test``, ``trigger``, REST, UI)."""
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type) or "") in ("scheduled", "backfill")


def run_attempt_of(dag_run) -> int:
    """3.x: the run's ``clear_number`` (0 for a fresh run). 2.x has no such counter: the epoch
    second the run (re)started, which a clear resets, so it also grows with every clear."""
    if IS_AIRFLOW_2:
        started = getattr(dag_run, "start_date", None)
        return int(started.timestamp()) if started else 0
    return int(getattr(dag_run, "clear_number", 0) or 0)


def dagrun_state_of(context, dag_id: str, run_id: str) -> str | None:
    """State of another DAG run from inside a task (3.x: a Task SDK call, no ORM in workers); None
    when the run does not exist."""
    ti = context["ti"]
    try:
        state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        return str(getattr(state, "value", state))  # an enum whose str() is "DagRunState.FAILED"
    except Exception as err:  # noqa: BLE001 - in-process and supervised runs raise different types
        status = getattr(getattr(err, "response", None), "status_code", None)
        text = f"{err} {getattr(err, 'detail', '')} {getattr(err, 'error', '')}".lower()
        if status == 404 or "not_found" in text or "not found" in text:
            return None
        raise


def failed_runs_in_a_row(context, limit: int) -> int:
    """How many of the DAG's runs up to this one failed in a row (at most ``limit``), walking back
    by logical date as the dag-processor's callback may (Airflow 3: GetPreviousDagRun; the
    scheduler's circuit breaker orders by ``run_after``, the same order for scheduled runs)."""
    dag_run = context.get("dag_run")
    if dag_run is None or getattr(dag_run, "logical_date", None) is None:
        return 0
    comms = supervisor_comms()
    if comms is None:
        return _failed_runs_in_a_row_orm(dag_run, limit)
    from airflow.sdk.execution_time.comms import GetPreviousDagRun

    count, logical_date = 1, dag_run.logical_date
    while count < limit:
        previous = comms.send(GetPreviousDagRun(dag_id=dag_run.dag_id, logical_date=logical_date)).dag_run
        if previous is None or str(getattr(previous.state, "value", previous.state)) != "failed":
            break
        count, logical_date = count + 1, previous.logical_date
    return count


def supervisor_comms():
    """3.x: the channel to the process supervising this task or DAG callback (the Task SDK relays
    Variables and run lookups through it); None on 2.x and for a DAG callback run in-process
    (``dag.test``), where the metadata DB is reached directly."""
    if IS_AIRFLOW_2:
        return None
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None)


def _failed_runs_in_a_row_orm(dag_run, limit: int) -> int:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    logical = DagRun.execution_date if IS_AIRFLOW_2 else DagRun.logical_date
    with create_session() as session:
        states = session.query(DagRun.state).filter(
            DagRun.dag_id == dag_run.dag_id, logical <= dag_run.logical_date
        ).order_by(logical.desc()).limit(limit).all()
    return len(list(takewhile(lambda row: str(getattr(row[0], "value", row[0])) == "failed", states)))
