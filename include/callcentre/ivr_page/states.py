"""What colour a business day gets on the IVR days page: a pure function of the facts about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The states, in the order the legend shows them.
BALANCED = "balanced"      # loaded, source = loaded + rejected, rejects at or under the threshold
REJECTS = "rejects"        # loaded and balanced, but more rejects than the threshold
FAILED = "failed"          # the day's newest run failed
DRIFTED = "drifted"        # loaded, but its latest drift check found hours that differ, not repaired since
RUNNING = "running"        # a run of the day is queued or running
LATE = "late"              # not loaded, past its deadline, and the deadline watcher still cares
NEVER_RUN = "never_run"    # not loaded, no run at all (an old day, or before the first business day)
PENDING = "pending"        # not loaded yet, but not late either: the day or its settle/deadline time is not over
STATES = (BALANCED, REJECTS, DRIFTED, FAILED, RUNNING, LATE, NEVER_RUN, PENDING)

# The page's warning threshold: a day above it is worth a look; runs fail only above the DAG's
# max_reject_ratio (5 % by default), so a lower warning shows the trend before that.
REJECT_WARN_RATIO = 0.01

_ACTIVE = {"queued", "running"}
# How long after its deadline an unloaded day that never ran is still "late" (the deadline
# watcher's look-back): older days that never ran are "never run", not a fresh alarm.
LATE_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class DayFacts:
    deadline: datetime | None          # None: the deadline alert is disabled (IVR_LOAD_DEADLINE_HOURS=0)
    ended: bool                        # the local day is over
    run_state: str | None = None       # the newest Airflow run naming the day; None: never run
    source_calls: int | None = None    # daily_metrics; None: no row (not loaded)
    rejected_calls: int | None = None
    loaded_calls: int | None = None
    deadline_alerted: bool = False     # a deadline_missed alert went out for the day
    drifted: bool = False              # the latest drift check found drift that nothing repaired since


def day_state(facts: DayFacts, now: datetime, threshold: float = REJECT_WARN_RATIO) -> str:
    """The day's state; the first that applies wins: running, failed, drifted, loaded (balanced or
    with rejects), late, pending, never run. A day the watcher reported stays late until loaded."""
    if facts.run_state in _ACTIVE:
        return RUNNING
    if facts.run_state == "failed":
        return FAILED
    if facts.drifted:
        return DRIFTED
    if facts.source_calls is not None:
        rejected = facts.rejected_calls or 0
        if facts.source_calls != (facts.loaded_calls or 0) + rejected:  # the table's CHECK forbids it
            return FAILED
        return REJECTS if facts.source_calls and rejected / facts.source_calls > threshold else BALANCED
    past_deadline = facts.deadline is not None and now >= facts.deadline
    if facts.deadline_alerted or (past_deadline and (facts.run_state is not None or now - facts.deadline <= LATE_WINDOW)):
        return LATE
    if not facts.ended or (facts.deadline is not None and not past_deadline):
        return PENDING
    return NEVER_RUN if facts.run_state is None else PENDING  # a run past its deadline is late (above)
