"""Loading one partition-hour: stream from MariaDB, validate, replace atomically in PostgreSQL.

The replace is one transaction holding a transaction-scoped advisory lock on the hour (``SET
LOCAL`` settings only, so it runs through a transaction pooler): an hour is wholly the old rows or
wholly the new ones, and any order of loads, clears and backfills converges to the source as read.
Versions of a call are ordered by when a load read the source (``analytics.read_seq``), never by
its ``updated_at``, which can go backwards. docs/ivr.md, "The DAG", says how; the steps are below.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from callcentre.common.compat import AirflowFailException
from callcentre.common.connections import ANALYTICS_POSTGRES
from callcentre.common.pg import READ_AHEAD_CHUNKS, copy_in, postgres_conn
from callcentre.ivr import columns, ledger
from callcentre.ivr.errors import INVALID_PARAMETER_VALUE, UNIQUE_VIOLATION, raise_classified, sqlstate_of
from callcentre.ivr.options import positive_setting
from callcentre.ivr.rules import REASON_COLUMN, describe_reject, fall_back_fold
from callcentre.ivr.source import hour_rows, source_connection

log = logging.getLogger(__name__)

DAG_ID = "ivr_calls_daily"
MAX_EXAMPLES = 5

STAGE_DDL = columns.stage_ddl()
COPY_SQL = "COPY stage_calls FROM STDIN WITH (FORMAT csv)"
# The rows read are COPY's own count; only the rejects are counted here: a scan that groups only
# the few rejected rows, not every staged one (35-63 -> 21-34 ms for a 65k-row hour, measured).
COUNT_SQL = "SELECT reject_reason, count(*) FROM stage_calls WHERE reject_reason IS NOT NULL GROUP BY reject_reason"
# A reject's example shows the value of the column its rule is about (rules.REASON_COLUMN).
_EXAMPLE_COLUMNS = list(dict.fromkeys(REASON_COLUMN.values()))
EXAMPLES_SQL = (
    "SELECT call_id, reject_reason, "
    + ", ".join(f"{c}::text" if columns.BY_NAME[c].pg_type == "timestamp" else c for c in _EXAMPLE_COLUMNS)
    + " FROM stage_calls WHERE reject_reason IS NOT NULL ORDER BY call_id LIMIT %s"
)
_EXAMPLE_VALUE = {column: 2 + i for i, column in enumerate(_EXAMPLE_COLUMNS)}

# What the load writes into each table (loaded_by_run_id and loaded_at aside), column by column,
# as expressions over the stage row ``s``: the INSERTs select them, and the probe compares a
# stored row with them, so "unchanged" means "the load would write exactly this row again".
CALLS_VALUES = columns.calls_values()
REJECTS_VALUES = columns.rejects_values()

# The replace, in the load's transaction, in four steps (one statement per entry: psycopg 3
# sends parameterised statements one at a time). Plain INSERTs after explicit deletes: ON
# CONFLICT's speculative insertion cost ~40% more per row (measured, docs/performance.md).
#
# 1. The hour itself (hour_sql), in its own month partitions named directly (statements against
#    the parents are planned for every month ever loaded, ~20 ms each with five years of them): a
#    stored row identical to what the load would write is kept and its staged row dropped (an
#    unchanged reload writes nothing); every other stored row goes. Earlier loads of this hour
#    held its lock before ours: none of its rows is newer.
# 2. The staged calls' keys into analytics.call_keys (KEYS_SQL), under a savepoint. The parents'
#    triggers keep call_keys for other writers; a partition written directly fires none.
# 3. Only when a key is there already (PROBE_SQL, through the parents): the call sits in another
#    hour or day, or in the other table. Its stored version is deleted, unless its hour's last
#    read (analytics.hour_reads) is later than ours: then the staged row is dropped. A version
#    landing after the probe meets the keys' insert (unique_violation, retried).
# 4. The rows (insert_sql), and the hour's read into hour_reads.

# Step 1, per table: returns how many stored rows were kept as they are.
_HOUR = """
WITH here AS MATERIALIZED (
    SELECT c.ctid AS stored_row, s.ctid AS staged,
           s.call_id IS NOT NULL AND {valid}({stored}) IS NOT DISTINCT FROM ({values}) AS same
    FROM {partition} c LEFT JOIN stage_calls s ON s.call_id = c.call_id
    WHERE c.business_date = %(d)s AND c.local_hour = %(h)s
), gone AS (
    DELETE FROM {partition} WHERE ctid = ANY (ARRAY(SELECT stored_row FROM here WHERE NOT same))
    RETURNING call_id
), keys_gone AS (  -- by index, whatever the number of keys stored
    DELETE FROM analytics.call_keys WHERE call_id = ANY (ARRAY(SELECT call_id FROM gone))
), kept AS (
    DELETE FROM stage_calls WHERE ctid = ANY (ARRAY(SELECT staged FROM here WHERE same))
)
SELECT count(*) FILTER (WHERE same) FROM here
"""
# A staged reject is never "the same" as a stored valid call, whatever its values.
_VALID = "s.reject_reason IS NULL AND "

# Step 3. Returns the staged rows it dropped by reject_reason and why (superseded or unchanged), for the counts.
_PROBE = """
WITH found AS MATERIALIZED (
    SELECT c.business_date AS stored_day, c.local_hour AS stored_hour, c.call_id, s.ctid AS staged, s.reject_reason,
           coalesce(c.read_seq > %(seq)s, false) AS newer,
           {valid}({stored}) IS NOT DISTINCT FROM ({values}) AS same
    FROM stage_calls s CROSS JOIN LATERAL (
        -- Per staged call, in this order: its key, its row by the full key in the one partition
        -- the key names, its hour's last read. Each OFFSET 0 keeps the planner from merging the
        -- steps into a join whose order or index rests on statistics (stale right after a load:
        -- minutes for a reload, seen); "+ 0" keeps it from probing a partition by the staged id
        -- alone (a scan of its whole index) instead of the key's full (date, hour, id).
        SELECT c.*, r.read_seq
        FROM (SELECT * FROM analytics.call_keys k WHERE k.call_id = s.call_id OFFSET 0) k
        JOIN {table} c ON c.business_date = k.business_date AND c.local_hour = k.local_hour AND c.call_id = k.call_id + 0
        LEFT JOIN analytics.hour_reads r ON r.business_date = c.business_date AND r.local_hour = c.local_hour
        WHERE k.call_id = s.call_id OFFSET 0
    ) c
), replaced AS (
    DELETE FROM {table} c USING found f
    WHERE c.business_date = f.stored_day AND c.local_hour = f.stored_hour AND c.call_id = f.call_id
      AND NOT (f.newer OR f.same)
), dropped AS (
    DELETE FROM stage_calls WHERE ctid = ANY (ARRAY(SELECT staged FROM found WHERE newer OR same))
)
SELECT reject_reason, newer, count(*) FROM found WHERE newer OR same GROUP BY 1, 2
"""


def _compare(values: dict[str, str], valid: str) -> dict[str, str]:
    return {"valid": valid, "values": ", ".join(values.values()), "stored": ", ".join(f"c.{column}" for column in values)}


PROBE_SQL = [
    _PROBE.format(table="analytics.calls", **_compare(CALLS_VALUES, _VALID)),
    _PROBE.format(table="analytics.call_rejects", **_compare(REJECTS_VALUES, "")),
]
# Index probes only, whatever the statistics of a just-loaded partition or of call_keys say (a
# hash join would read every key ever stored).
PROBE_SETTINGS = ["SET LOCAL enable_seqscan = off", "SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]
PROBE_SETTINGS_OFF = [s.replace("= off", "= on") for s in PROBE_SETTINGS]


@dataclass(frozen=True)
class HourPartitions:
    """The month partitions of analytics.calls and call_rejects that hold a day's rows."""

    calls: str
    rejects: str

    @classmethod
    def resolve(cls, cur, day: date) -> HourPartitions:
        cur.execute("SELECT analytics.month_partition('calls', %(d)s), analytics.month_partition('call_rejects', %(d)s)",
                    {"d": day})
        calls, rejects = cur.fetchone()
        if calls is None or rejects is None:
            raise RuntimeError(f"no month partition of analytics.calls or call_rejects holds {day}")
        return cls(calls, rejects)


# Step 1's plan rests on no statistics. No nested loop: right after a load the hour's statistics
# are stale (an estimate of 1 row), and a nested join then scans the unindexed stage once per
# stored row (54 s for 40k rows, seen). No sequential scan where an index serves: with call_keys'
# statistics stale, the planner chose to read every key ever stored to delete a few (seen in CI).
HOUR_SETTINGS = ["SET LOCAL enable_nestloop = off", "SET LOCAL enable_seqscan = off"]


def hour_sql(partitions: HourPartitions) -> list[str]:
    """Step 1, between its settings and their reset."""
    return [
        *HOUR_SETTINGS,
        _HOUR.format(partition=partitions.calls, **_compare(CALLS_VALUES, _VALID)),
        _HOUR.format(partition=partitions.rejects, **_compare(REJECTS_VALUES, "")),
        *[s.replace("= off", "= on") for s in HOUR_SETTINGS],
    ]


def _insert(table: str, values: dict[str, str], where: str) -> str:
    return (f"INSERT INTO {table} ({', '.join(values)}, loaded_by_run_id)"
            f" SELECT {', '.join(values.values())}, %(run_id)s FROM stage_calls s WHERE {where}")


# Step 2.
KEYS_SQL = ("INSERT INTO analytics.call_keys (call_id, business_date, local_hour)"
            " SELECT s.call_id, %(d)s::date, %(h)s::smallint FROM stage_calls s")


def insert_sql(partitions: HourPartitions) -> list[str]:
    """Step 4."""
    return [
        _insert(partitions.calls, CALLS_VALUES, "s.reject_reason IS NULL"),
        _insert(partitions.rejects, REJECTS_VALUES, "s.reject_reason IS NOT NULL"),
        # The hour now holds what read seq saw: the version of every row in it (see step 3).
        "INSERT INTO analytics.hour_reads (business_date, local_hour, read_seq) VALUES (%(d)s, %(h)s, %(seq)s)"
        " ON CONFLICT (business_date, local_hour) DO UPDATE SET read_seq = EXCLUDED.read_seq, read_at = now()",
    ]


# Seconds an attempt waits for any lock (the hour's, or a row a concurrent load holds) before it
# fails, transiently: a retry beats queueing behind a stuck transaction.
LOCK_TIMEOUT_SETTING = "IVR_LOCK_TIMEOUT_SECONDS"
DEFAULT_LOCK_TIMEOUT_S = 600


# An empty source hour may only empty a stored one whose calls the source still holds elsewhere
# (HourLoad._refuse_to_empty_a_purged_hour); the existence check reads up to this many of them.
PURGE_SAMPLE = 1000
STORED_SQL = ("SELECT call_id, count(*) OVER () FROM (SELECT call_id FROM {calls} WHERE business_date = %(d)s"
              " AND local_hour = %(h)s UNION ALL SELECT call_id FROM {rejects} WHERE business_date = %(d)s"
              " AND local_hour = %(h)s) stored LIMIT %(n)s")  # up to n ids, each with the count of all


def lock_timeout_s() -> int:
    return positive_setting(LOCK_TIMEOUT_SETTING, DEFAULT_LOCK_TIMEOUT_S, what="a whole number of seconds",
                            error=AirflowFailException)


def partition_lock_key(dag_id: str, day: date, hour: int) -> str:
    return f"{dag_id}:{day}:{hour}"


# A busy hour's stage outgrows the default 8 MB of temp buffers. PostgreSQL refuses to change
# them once the session has used a temp table (SQLSTATE 22023), which a pooled backend may have
# done: then the attempt goes on with the buffers that backend has.
_TEMP_BUFFERS = "SET LOCAL temp_buffers = '256MB'"


def _under_savepoint(cur, statement: str, values, refused: str) -> bool:
    """Run ``statement`` under a savepoint: False, and nothing done, when it fails with SQLSTATE
    ``refused``; the transaction goes on."""
    cur.execute("SAVEPOINT attempt")
    try:
        cur.execute(statement, values)
    except Exception as err:  # noqa: BLE001 - only ``refused`` is expected here
        if sqlstate_of(err) != refused:
            raise
        cur.execute("ROLLBACK TO SAVEPOINT attempt")
        return False
    cur.execute("RELEASE SAVEPOINT attempt")
    return True


@dataclass
class HourResult:
    """What one attempt at one partition-hour did (a dry run returns it to XCom, so plain types only)."""

    business_date: str
    hour: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    # Staged calls left out because a concurrent load had already stored a newer version.
    rows_superseded: int = 0
    # Staged calls already stored exactly as this load would write them (left as they are; still
    # counted in rows_loaded or rows_rejected: the target holds them).
    rows_unchanged: int = 0
    dry_run: bool = False
    seconds: float = 0.0
    # Seconds per phase: stage (read MariaDB + COPY), validate (counts), delete (the hour's own
    # rows), keys (and the probes elsewhere when one was there), insert, commit.
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @contextmanager
    def phase(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.monotonic() - started, 3)


def _count_staged(cur, result: HourResult, rows_read: int) -> None:
    """Fill the result's counts and first examples from what was staged (``rows_read`` rows)."""
    cur.execute(COUNT_SQL)
    result.reasons = dict(cur.fetchall())
    result.rows_read = rows_read
    result.rows_rejected = sum(result.reasons.values())
    result.rows_loaded = rows_read - result.rows_rejected
    if result.rows_rejected:
        cur.execute(EXAMPLES_SQL, (MAX_EXAMPLES,))
        result.examples = [
            describe_reject(row[0], row[1], row[_EXAMPLE_VALUE[REASON_COLUMN[row[1]]]]) for row in cur.fetchall()
        ]


class HourLoad:
    """One attempt at one partition-hour, phase by phase (:meth:`begin`, :meth:`stage`,
    :meth:`replace`, :meth:`close`), so that a test can interleave another load between them.
    Before the attempt's transaction, a short one under the same lock closes the hour's ledger
    rows left ``running`` by attempts that are gone and records this one."""

    def __init__(self, business_date: date, hour: int, *, tz_name: str, run_id: str, try_number: int = 1,
                 invalid_rows: str = "quarantine", dry_run: bool = False, chunk_size: int = 20_000,
                 empty_ok: bool = False, target_conn_id: str = ANALYTICS_POSTGRES, dag_id: str = DAG_ID):
        self.day, self.hour, self.tz_name, self.run_id = business_date, hour, tz_name, run_id
        self.empty_ok = empty_ok
        self.try_number, self.invalid_rows, self.dry_run, self.chunk_size = try_number, invalid_rows, dry_run, chunk_size
        self.target_conn_id, self.dag_id = target_conn_id, dag_id
        self.result = HourResult(business_date=business_date.isoformat(), hour=hour, dry_run=dry_run)
        self.fold = fall_back_fold(business_date, ZoneInfo(tz_name))
        self.batch_id = None
        self.pg = None
        self.cur = None
        self.read_seq = None
        self.partitions: HourPartitions | None = None

    def where(self) -> str:
        return f"{self.day} hour {self.hour:02d}"

    def _lock_partition(self, cur) -> None:
        cur.execute(f"SET LOCAL lock_timeout = '{lock_timeout_s()}s'")
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (partition_lock_key(self.dag_id, self.day, self.hour),))

    def begin(self) -> None:
        self.pg = postgres_conn(self.target_conn_id)
        if not self.dry_run:
            with self.pg.cursor() as cur:
                self._lock_partition(cur)
                # The day's month partitions (and the next month's), when missing: DDL once a month.
                cur.execute("SELECT analytics.ensure_month_partitions(%s)", (self.day,))
                self.partitions = HourPartitions.resolve(cur, self.day)
            ledger.close_abandoned(self.pg, self.dag_id, self.day, self.hour)  # commits: the lock ends
            self.batch_id = ledger.start(self.pg, self.dag_id, self.run_id, self.try_number, self.day, self.hour,
                                         self.invalid_rows)
        self.cur = self.pg.cursor()
        self._lock_partition(self.cur)  # held until the attempt commits or rolls back
        if not _under_savepoint(self.cur, _TEMP_BUFFERS, None, INVALID_PARAMETER_VALUE):
            log.info("temp_buffers already fixed on this (pooled) backend; keeping them")
        # Every statement here is a scan of the stage or an index probe: JIT compiling them
        # costs more than it saves at an hour's size.
        self.cur.execute("SET LOCAL jit = off")
        # The stage is sorted or hashed against the hour's stored rows (a reload): in memory, not
        # in temporary files (the default 4 MB is less than a busy hour's ids).
        self.cur.execute("SET LOCAL work_mem = '64MB'")
        self.cur.execute(STAGE_DDL)

    def stage(self) -> None:
        """Read the hour from MariaDB (one snapshot) into the stage; count and check it."""
        with self.result.phase("stage"), source_connection() as src:
            # Taken under the hour's lock, just before the snapshot opens (the stream's first step).
            self.cur.execute("SELECT nextval('analytics.read_seq')")
            self.read_seq = self.cur.fetchone()[0]
            # chunk_size caps the rows held at once: one piece read, the pieces read ahead, one copied.
            piece = max(1, self.chunk_size // (READ_AHEAD_CHUNKS + 2))
            staged = copy_in(self.cur, COPY_SQL, hour_rows(src, self.day, self.hour, piece, self.fold))
            if not staged and not (self.empty_ok or self.dry_run):
                self._refuse_to_empty_a_purged_hour(src)
        with self.result.phase("validate"):
            _count_staged(self.cur, self.result, staged)
        if self.result.rows_rejected and self.invalid_rows == "fail":
            raise AirflowFailException(
                f"{self.result.rows_rejected} invalid row(s) in source table calls for {self.where()} and "
                f"invalid_rows='fail'; nothing was written. First: " + "; ".join(self.result.examples)
            )

    def _refuse_to_empty_a_purged_hour(self, src) -> None:
        """The source holds no call for the hour: when analytics holds calls for it that the
        source no longer holds anywhere (not moved to another hour: purged by the IVR's retention,
        reached by a backfill, or deleted), fail rather than empty the hour."""
        self.cur.execute(STORED_SQL.format(calls=self.partitions.calls, rejects=self.partitions.rejects),
                         {"d": self.day, "h": self.hour, "n": PURGE_SAMPLE})
        rows = self.cur.fetchall()
        if not rows:
            return
        stored = [call_id for call_id, _ in rows]
        with src.cursor() as cur:
            cur.execute(f"SELECT call_id FROM calls WHERE call_id IN ({', '.join(['%s'] * len(stored))}) LIMIT 1", stored)
            if cur.fetchone():
                return
        raise AirflowFailException(
            f"{self.where()}: the source holds no call for it, nor any of the {rows[0][1]} calls analytics "
            f"holds for it ({len(stored)} looked up by id): the IVR deleted or purged them (its retention?). Nothing "
            f"was replaced. If the hour really is empty now, trigger ivr_calls_daily for {self.day} with "
            f'{{"min_calls": 0, "hours": [{self.hour}]}}.'
        )

    def replace(self) -> None:
        """Replace the hour in the target (in the attempt's transaction) and close the ledger row."""
        if self.dry_run:
            self.pg.rollback()
            return
        values = {"d": self.day, "h": self.hour, "tz": self.tz_name, "run_id": self.run_id, "seq": self.read_seq,
                  "shift": self.fold.shift_s if self.fold else 0}
        result = self.result
        with result.phase("delete"):
            for statement in hour_sql(self.partitions):
                self.cur.execute(statement, values)
                if statement.startswith("SET"):
                    continue
                result.rows_unchanged += self.cur.fetchone()[0]
        with result.phase("keys"):
            if not _under_savepoint(self.cur, KEYS_SQL, values, UNIQUE_VIOLATION):  # a staged call is stored elsewhere
                self._probe(values)
                self.cur.execute(KEYS_SQL, values)  # one stored meanwhile: unique_violation, retried
        with result.phase("insert"):
            for statement in insert_sql(self.partitions):
                self.cur.execute(statement, values)
        with result.phase("commit"):
            ledger.finish(self.cur, self.batch_id, "success", result)
            self.pg.commit()

    def _probe(self, values: dict) -> None:
        """Step 3: the stored versions of staged calls elsewhere, deleted or left as newer."""
        result = self.result
        for statement in PROBE_SETTINGS:
            self.cur.execute(statement)
        for statement in PROBE_SQL:
            self.cur.execute(statement, values)
            for reason, superseded, count in self.cur.fetchall():  # the staged rows dropped
                if not superseded:
                    result.rows_unchanged += count
                elif reason is None:
                    result.rows_superseded += count
                    result.rows_loaded -= count
                else:
                    result.rows_superseded += count
                    result.rows_rejected -= count
                    result.reasons[reason] -= count
        for statement in PROBE_SETTINGS_OFF:
            self.cur.execute(statement)

    def fail(self, err: BaseException) -> None:
        """Undo the attempt and record why in the ledger (best effort)."""
        if self.pg is None:
            return
        conn = self.pg
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - interrupted mid-statement (a timeout during the COPY) or gone
            log.warning("the attempt's connection is unusable after %s; recording on a new one", type(err).__name__)
            self.close()
            try:
                conn = postgres_conn(self.target_conn_id)
            except Exception:  # noqa: BLE001 - the target is down: the next attempt closes the row
                return
        try:
            if self.batch_id is not None:
                ledger.record_failure(conn, self.batch_id, self.result, err)
        finally:
            if conn is not self.pg:
                conn.close()

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()  # a transaction still open (an error) ends: its lock and stage go
            self.pg = None


def load_hour(business_date: date, hour: int, **options) -> HourResult:
    """Replace partition (``business_date``, ``hour``) in PostgreSQL with the source's rows;
    ``options`` are :class:`HourLoad`'s.

    ``invalid_rows='fail'`` raises AirflowFailException (nothing written) when any row is
    invalid, naming the row, the value and the rule; ``'quarantine'`` stores it in
    ``analytics.call_rejects``. ``dry_run`` reads and validates, and writes nothing at all.
    """
    started = time.monotonic()
    attempt = HourLoad(business_date, hour, **options)
    try:
        attempt.begin()
        attempt.stage()
        attempt.replace()
    # BaseException: Airflow's AirflowTaskTimeout (execution_timeout) and KeyboardInterrupt are
    # not Exceptions, and the ledger must not keep a `running` row after them either.
    except BaseException as err:
        attempt.fail(err)
        if isinstance(err, Exception):
            raise_classified(err, attempt.where())
        raise
    finally:
        attempt.close()
    result = attempt.result
    result.seconds = round(time.monotonic() - started, 3)
    log.info(
        "%s hour %02d: read %d, loaded %d, rejected %d %s%s%s%s in %.2fs %s",
        business_date, hour, result.rows_read, result.rows_loaded, result.rows_rejected, result.reasons or "",
        f", {result.rows_superseded} superseded by newer versions" if result.rows_superseded else "",
        f", {result.rows_unchanged} already stored as they are" if result.rows_unchanged else "",
        " (dry run, nothing written)" if attempt.dry_run else "", result.seconds, result.phases,
    )
    return result
