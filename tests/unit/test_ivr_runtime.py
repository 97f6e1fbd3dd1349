"""Decisions the IVR tasks take from their context (callcentre.ivr.runtime)."""

from __future__ import annotations

from callcentre.ivr.runtime import reads_timeout_anew


def test_an_hour_reads_the_statement_timeout_anew_only_when_plan_did_not_just_read_it():
    assert not reads_timeout_anew(1, 1)  # a first run: plan's value
    assert not reads_timeout_anew(3, 3)  # the whole run cleared or backfilled twice: plan re-read it
    assert reads_timeout_anew(2, 1)  # a retry (the runbook: raise the Variable, clear the failed hours)
    assert reads_timeout_anew(6, 1)  # the failed hours cleared after their retries, plan not
    assert reads_timeout_anew(4, 3)  # an hour that had retried once, then the whole run cleared
    assert reads_timeout_anew(1, None)  # a plan result without its try (an older run's XCom)
