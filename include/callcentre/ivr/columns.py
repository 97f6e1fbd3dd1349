"""The IVR call's columns: the one table every column list of the load, the validation and the
drift check is derived from. Adding a source column means one row here plus a migration adding it
to ``analytics.calls`` and ``analytics.call_rejects`` (and to sql/source_calls.sql)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column of the IVR's ``calls``: ``name`` in MariaDB, the stage and ``call_rejects`` (the
    raw value); ``pg_type`` as read (wall-clock times stay naive); ``csv``, how the extract renders
    it (source.csv_field): ``key`` (NOT NULL), ``value``, ``time`` (a DATETIME that may hold a zero
    date) or ``text``; ``stored``, its ``analytics.calls`` column holding the value as read;
    ``derived``, further calls columns as SQL over the stage row ``s`` (``%(tz)s`` and ``%(shift)s``
    are the load's parameters)."""

    name: str
    pg_type: str
    csv: str = "value"
    stored: str = ""
    derived: dict[str, str] = field(default_factory=dict)

    @property
    def calls_column(self) -> str:
        return self.stored or self.name


# In the order the extract returns them (and rules.reject_reason reads a row).
SOURCE = (
    Column("call_id", "bigint", "key"),
    # A valid call whose end reads earlier than its start crossed the fall-back change
    # (rules.py): its start is the first occurrence of the repeated hour, AT TIME ZONE the second.
    Column("start_time", "timestamp", "key", stored="start_local", derived={
        "start_time": "CASE WHEN s.end_time < s.start_time"
                      " THEN (s.start_time AT TIME ZONE %(tz)s) - make_interval(secs => %(shift)s)"
                      " ELSE s.start_time AT TIME ZONE %(tz)s END"}),
    Column("end_time", "timestamp", "time", stored="end_local", derived={"end_time": "s.end_time AT TIME ZONE %(tz)s"}),
    Column("duration", "integer"),
    Column("caller_number", "varchar(32)", "text"),
    Column("dialed_number", "varchar(32)", "text"),
    Column("ivr_path", "varchar(255)", "text"),
    Column("disposition", "varchar(16)", "text"),
    Column("queue_name", "varchar(64)", "text"),
    Column("agent_id", "integer"),
    Column("wait_seconds", "integer"),
    Column("updated_at", "timestamp", "time", stored="source_updated_at"),
)
SOURCE_NAMES = tuple(c.name for c in SOURCE)
BY_NAME = {c.name: c for c in SOURCE}

# The rule a staged row breaks (NULL: valid), the stage's last column; a reject keeps it.
REASON = Column("reject_reason", "text")

# Where a row sits: the hour's business date and local hour, the load's parameters.
PLACE = {"business_date": "%(d)s::date", "local_hour": "%(h)s::smallint"}


def stage_ddl(source: tuple[Column, ...] = SOURCE) -> str:
    columns = ", ".join(f"{c.name} {c.pg_type}" for c in (*source, REASON))
    return f"CREATE TEMP TABLE stage_calls ({columns}) ON COMMIT DROP"


def calls_values(source: tuple[Column, ...] = SOURCE) -> dict[str, str]:
    """analytics.calls column -> expression over the stage row ``s`` (loaded_by_run_id and loaded_at aside)."""
    values = {"call_id": "s.call_id", **PLACE}
    for c in source:
        values.update(c.derived)
        values.setdefault(c.calls_column, f"s.{c.name}")
    return values


def rejects_values(source: tuple[Column, ...] = SOURCE) -> dict[str, str]:
    """analytics.call_rejects column -> expression over the stage row ``s``: every value as read."""
    return {"call_id": "s.call_id", **PLACE, **{c.name: f"s.{c.name}" for c in (REASON, *source) if c.name != "call_id"}}


def compared(table: str, source: tuple[Column, ...] = SOURCE) -> tuple[str, ...]:
    """The columns the drift checksum reads, in one order: ``source`` (and call_rejects) by their
    names, ``calls`` by the columns holding each value as read."""
    return tuple(c.calls_column if table == "calls" else c.name for c in source)
