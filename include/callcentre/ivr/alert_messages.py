"""The words of the IVR's Slack messages, in ``CALLCENTRE_LANGUAGE`` (callcentre.common.language).

Codes, ids, commands and error texts stay as they are. Messages carry ids, dates, hours and
redacted errors only: no phone number, no secret.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from callcentre.common import airflow_urls
from callcentre.common.language import message_language
from callcentre.ivr.business_day import cli_timezone, typed_day_example

IVR_DAG_ID = "ivr_calls_daily"
MAX_LINKS = 10

_WORDS = {
    "en": {
        "run_failed": ":red_circle: `{dag_id}` run failed", "business_date": " — business date {day}",
        "run": "run", "reason": "reason",
        "no_failure": "no task failure was recorded (a worker killed before its callback, or the run's timeout): open the run",
        "failed": "failed", "first_error": "first error ({label}, try {try_number})", "logs": "logs",
        "last_error": "last error ({label}, try {try_number})",
        "no_link": "(no link)", "more": "… and {n} more in the run's grid",
        "hour": "hour", "hours": "hours", "map_index": "map index",
        "unclaimed": "while analytics PostgreSQL is unreachable, at most one such message an hour for `{dag_id}`",
        "paused": (":double_vertical_bar: Airflow has PAUSED `{dag_id}`: its last {n} runs failed"
                   " (max_consecutive_failed_dag_runs), so no new run starts. Fix the cause, then unpause it:"
                   " {url} (the pause toggle) or `airflow dags unpause {dag_id}`"),
        "late": ":alarm_clock: IVR business day {day} not loaded by its deadline{seen_by}",
        "deadline": "deadline: {due} {zone} (end of the day + {hours} h, IVR_LOAD_DEADLINE_HOURS)",
        "no_row": "analytics.daily_metrics has no row for {day}, and no failed run of `{dag_id}` was reported for it",
        "runs": "runs", "no_run": "if the day has no run", "sla": " (Airflow SLA miss)",
        "drift": ":wrench: {dag_id} ({run_id}): reloaded the hours that differed from the IVR source",
        "drift_repaired": "{day}: hours {hours}; metrics rewritten",
        "drift_failed": "{day}: FAILED, metrics left as they were: {why}",
        "drift_not_reloaded": "hours {hours} not reloaded: their reload_hour task failed (see its log)",
        "drift_gate_failed": "its quality gate failed: {error}",
    },
    "es": {
        "run_failed": ":red_circle: falló la ejecución de `{dag_id}`", "business_date": " — día de negocio {day}",
        "run": "ejecución", "reason": "motivo",
        "no_failure": ("no se registró ningún fallo de tarea (un worker terminado antes de su callback, o el "
                       "tiempo límite de la ejecución): abra la ejecución"),
        "failed": "fallidas", "first_error": "primer error ({label}, intento {try_number})", "logs": "logs",
        "last_error": "último error ({label}, intento {try_number})",
        "no_link": "(sin enlace)", "more": "… y {n} más en la cuadrícula de la ejecución",
        "hour": "hora", "hours": "horas", "map_index": "índice",
        "unclaimed": "mientras PostgreSQL de analítica no responda, como mucho un mensaje así por hora para `{dag_id}`",
        "paused": (":double_vertical_bar: Airflow PAUSÓ `{dag_id}`: sus últimas {n} ejecuciones fallaron"
                   " (max_consecutive_failed_dag_runs), así que no empieza ninguna nueva. Corrija la causa y"
                   " reanúdelo: {url} (el interruptor de pausa) o `airflow dags unpause {dag_id}`"),
        "late": ":alarm_clock: el día de negocio {day} del IVR no se cargó a tiempo{seen_by}",
        "deadline": "plazo: {due} {zone} (fin del día + {hours} h, IVR_LOAD_DEADLINE_HOURS)",
        "no_row": "analytics.daily_metrics no tiene fila para {day}, y no se informó ninguna ejecución fallida de `{dag_id}`",
        "runs": "ejecuciones", "no_run": "si el día no tiene ejecución", "sla": " (SLA de Airflow incumplido)",
        "drift": ":wrench: {dag_id} ({run_id}): se recargaron las horas que diferían de la fuente del IVR",
        "drift_repaired": "{day}: horas {hours}; métricas reescritas",
        "drift_failed": "{day}: FALLÓ, métricas sin cambios: {why}",
        "drift_not_reloaded": "horas {hours} sin recargar: su tarea reload_hour falló (vea su log)",
        "drift_gate_failed": "su control de calidad falló: {error}",
    },
}


def words() -> dict:
    return _WORDS[message_language()]


def _failed_list(failures: list, w: dict) -> str:
    """``load_hour: hours 03, 04, 13; reconcile``, in first-failure order."""
    by_task: dict[str, list] = {}
    for failure in failures:
        by_task.setdefault(failure.task_id, []).append(failure)
    parts = []
    for task_id, items in by_task.items():
        hours = sorted(f.local_hour for f in items if f.local_hour is not None)
        if hours:
            parts.append(f"{task_id}: {w['hours' if len(hours) > 1 else 'hour']} "
                         f"{hour_list(hours)}")
        elif any(f.map_index >= 0 for f in items):
            parts.append(f"{task_id}: {w['map_index']} {', '.join(str(f.map_index) for f in items)}")
        else:
            parts.append(task_id)
    return "; ".join(parts)


def run_failed_message(dag_id: str, run_id: str, run_url: str | None, business_date: date | None,
                       reason: str | None, failures: list) -> str:
    w = words()
    title = w["run_failed"].format(dag_id=dag_id)
    if business_date is not None:
        title += w["business_date"].format(day=business_date)
    lines = [title, f"• {w['run']}: `{run_id}`" + (f" {run_url}" if run_url else "")]
    if reason:
        lines.append(f"• {w['reason']}: {reason}")
    if not failures:
        lines.append(f"• {w['no_failure']}")
        return "\n".join(lines)
    first = failures[0]
    lines += [
        f"• {w['failed']} ({len(failures)}): {_failed_list(failures, w)}",
        f"• {w['first_error'].format(label=first.label, try_number=first.try_number)}: {first.error}",
    ]
    last = failures[-1]
    if last.task_id != first.task_id:  # a later task's own account (ivr_drift_check's publish: the batch)
        lines.append(f"• {w['last_error'].format(label=last.label, try_number=last.try_number)}: {last.error}")
    lines += [f"• {w['logs']}:"]
    lines += [f"    {f.label}: {f.log_url or w['no_link']}" for f in failures[:MAX_LINKS]]
    if len(failures) > MAX_LINKS:
        lines.append(f"    {w['more'].format(n=len(failures) - MAX_LINKS)}")
    return "\n".join(lines)


def hour_list(hours) -> str:
    return ", ".join(f"{h:02d}" for h in hours)


def drift_batch_message(dag_id: str, run_id: str, repaired: dict[str, list[int]], failed: dict[str, str]) -> str:
    """ivr_drift_check's one message per batch: each day not repaired (why) first, so that a
    message cut to length still names them, then each day repaired (its hours)."""
    w = words()
    lines = [w["drift"].format(dag_id=dag_id, run_id=run_id)]
    lines += ["• " + w["drift_failed"].format(day=day, why=why) for day, why in sorted(failed.items())]
    lines += ["• " + w["drift_repaired"].format(day=day, hours=hour_list(hours)) for day, hours in sorted(repaired.items())]
    return "\n".join(lines)


def paused_message(dag_id: str, failed_in_a_row: int) -> str:
    return "\n• " + words()["paused"].format(dag_id=dag_id, n=failed_in_a_row, url=airflow_urls.ui_url(f"dags/{dag_id}"))


def deadline_message(day: date, due: datetime, tz: ZoneInfo, hours: float, dag_id: str = IVR_DAG_ID,
                     seen_by: str = "") -> str:
    w = words()
    local_due = due.astimezone(tz)
    try:  # the day as the CLI must be given it: a bare date, or its UTC midnight where the zones disagree
        typed = typed_day_example(day, tz, cli_timezone())
    except ValueError:
        typed = day.isoformat()
    return "\n".join([
        w["late"].format(day=day, seen_by=seen_by),
        "• " + w["deadline"].format(due=f"{local_due:%Y-%m-%d %H:%M}", zone=tz.key, hours=f"{hours:g}"),
        "• " + w["no_row"].format(day=day, dag_id=dag_id),
        f"• {w['runs']}: {airflow_urls.dag_runs_url(dag_id)}",
        f"• {w['no_run']}: `{airflow_urls.backfill_command(dag_id, typed, typed)}`",
    ])
