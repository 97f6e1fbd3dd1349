"""``python -m callcentre.migrate [--check]``: apply (or only check) the migrations of every
PostgreSQL schema the pipelines own (callcentre.common.migrations)."""

from __future__ import annotations

import logging
import sys

from callcentre.common.migrations import SchemaMigrations


def all_schemas() -> list[SchemaMigrations]:
    from callcentre.ivr import schema
    from callcentre.scraping import jobs

    return [schema.analytics_migrations(), jobs.scraping_migrations()]


def main(argv: list[str]) -> int:
    """``python -m callcentre.migrate [--check]``: apply (or only check) every schema."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_only = "--check" in argv
    behind = 0
    for target in all_schemas():
        if check_only:
            applied = target.applied_version()
            print(f"{target.schema}: at {applied} of {target.latest}")
            behind += applied != target.latest
        else:
            done = target.ensure_current()
            print(f"{target.schema}: applied {done} now at {target.latest}" if done else f"{target.schema}: current ({target.latest})")
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
