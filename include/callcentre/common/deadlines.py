"""Deadline-alert callbacks (Airflow 3's replacement for SLAs). The triggerer runs them.

A callback of our own, rather than the Slack notifier class itself, keeps ``slack_sdk`` out of DAG
parsing (a callback given as a class is imported when the DAG is parsed).
"""

from __future__ import annotations

import asyncio

from callcentre.common.slack import send_slack


def deadline_message(context: dict | None, what: str) -> str:
    context = context or {}
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    return (
        f":alarm_clock: Deadline missed: {what}\n"
        f"• DAG: `{dag_run.get('dag_id', '?')}`\n"
        # The context carries the run as the REST API shows it (dag_run_id), not as the ORM (run_id).
        f"• run: `{dag_run.get('dag_run_id') or dag_run.get('run_id', '?')}` (logical date {dag_run.get('logical_date', '?')})\n"
        f"• deadline: {deadline.get('deadline_time', '?')}"
    )


async def slack_deadline_missed(what: str = "the run did not finish in time", context: dict | None = None, **_):
    """Post one Slack message saying which run missed its deadline (never raises)."""
    await asyncio.to_thread(send_slack, deadline_message(context, what))
