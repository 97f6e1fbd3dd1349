"""Numbered SQL migrations and a schema-version table, one per PostgreSQL schema we own.

A schema's migrations are the files ``NNNN_name.sql`` of one folder, numbered from 0001 without gaps,
applied once each, in order, recorded in ``<schema>.schema_migrations``; written without a schema
prefix (run with ``search_path`` set, so a test can apply them to a scratch schema).
:meth:`SchemaMigrations.ensure_current` is what every run calls.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from callcentre.common.pg import transaction

log = logging.getLogger(__name__)

VERSION_TABLE = "schema_migrations"
# A migration waits at most this long for a lock (a long transaction on a table it alters),
# then fails (transient: the next run tries again) instead of queueing every reader behind it.
MIGRATION_LOCK_TIMEOUT = "60s"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaVersionError(RuntimeError):
    """The database's schema is newer than this code, or the migration files are malformed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()


def read_migrations(folder: Path) -> list[Migration]:
    """The folder's migrations in order; SchemaVersionError naming the file on a bad name or a gap."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise SchemaVersionError(f"{path}: a migration file is named NNNN_lower_case_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaVersionError(f"{migration.path}: expected migration number {expected:04d} (no gaps, no repeats)")
    return found


@dataclass(frozen=True)
class SchemaMigrations:
    """The migrations of one schema, applied through connection ``conn_id``."""

    schema: str
    folder: Path
    conn_id: str

    @cached_property
    def migrations(self) -> list[Migration]:
        return read_migrations(self.folder)

    @property
    def latest(self) -> int:
        return len(self.migrations)

    def _applied(self, cur) -> int:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.{VERSION_TABLE}",))
        if not cur.fetchone()[0]:
            return 0
        cur.execute(f"SELECT coalesce(max(version), 0) FROM {self.schema}.{VERSION_TABLE}")
        return int(cur.fetchone()[0])

    def applied_version(self) -> int:
        with transaction(self.conn_id) as cur:
            return self._applied(cur)

    def _check_not_newer(self, applied: int) -> None:
        if applied > self.latest:
            raise SchemaVersionError(
                f"schema {self.schema} is at migration {applied}, newer than this code's {self.latest} "
                f"({self.folder}): deploy the code that wrote it"
            )

    def ensure_current(self) -> list[int]:
        """Apply what is pending (nothing when current: one read, no DDL) in one transaction,
        serialised by an advisory lock; the versions applied."""
        applied = self.applied_version()
        self._check_not_newer(applied)
        if applied == self.latest:
            return []
        with transaction(self.conn_id) as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'")
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"migrations:{self.schema}",))
            applied = self._applied(cur)  # again, under the lock: another run may have done it
            self._check_not_newer(applied)
            pending = self.migrations[applied:]
            if not pending:
                return []
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.schema}.{VERSION_TABLE} ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute(f"SET LOCAL search_path = {self.schema}, public")
            for migration in pending:
                log.info("schema %s: applying migration %04d_%s", self.schema, migration.version, migration.name)
                cur.execute(migration.sql)
                cur.execute(f"INSERT INTO {self.schema}.{VERSION_TABLE} (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name))
            return [m.version for m in pending]
