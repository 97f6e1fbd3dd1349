"""The hook (client contract) against the reference server over real HTTP."""

from __future__ import annotations

import json
import time

import pytest

from callcentre.scraping.api_hook import ScrapingApiHook, ScrapingApiRejected, ScrapingApiUnavailable
from tests.scraping_fixtures import *  # noqa: F403 - fixtures


def test_submit_is_idempotent_on_reference(scraping_api):
    hook = ScrapingApiHook()
    first = hook.submit_lookup("ref-1", ["3001234567", "+573109876543"])
    again = hook.submit_lookup("ref-1", ["3001234567", "+573109876543"])
    assert first == again
    assert scraping_api.lookups_created_per_reference() == {"ref-1": 1}
    assert hook.get_lookup(first).status == "processing"
    done = hook.get_lookup(first)
    assert done.status == "done"
    assert [r["number"] for r in done.results] == ["3001234567", "+573109876543"]


def test_429_waits_retry_after_then_succeeds(scraping_api):
    scraping_api.set_knobs(throttle_next=2, retry_after=1)
    ScrapingApiHook().submit_lookup("ref-429", ["3001234567"])
    posts = scraping_api.requests_for("POST")
    assert [p["status"] for p in posts] == [429, 429, 202]
    assert posts[1]["t"] - posts[0]["t"] >= 1.0 and posts[2]["t"] - posts[1]["t"] >= 1.0


def test_429_beyond_patience_is_transient(scraping_api, monkeypatch):
    extra = {"throttle_attempts": 1}
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_SCRAPING_API"])
    monkeypatch.setenv("AIRFLOW_CONN_SCRAPING_API", json.dumps({**conn, "extra": extra}))
    scraping_api.set_knobs(throttle_next=5, retry_after=0)
    with pytest.raises(ScrapingApiUnavailable, match="HTTP 429"):
        ScrapingApiHook().submit_lookup("ref-x", ["3001234567"])


def test_retry_after_longer_than_allowed_is_not_slept(scraping_api):
    scraping_api.set_knobs(throttle_next=1, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(ScrapingApiUnavailable, match="throttled for 3600s"):
        ScrapingApiHook().submit_lookup("ref-y", ["3001234567"])
    assert time.monotonic() - started < 30


def test_500_is_transient_and_4xx_permanent(scraping_api):
    hook = ScrapingApiHook()
    scraping_api.set_knobs(fail_next=1)
    with pytest.raises(ScrapingApiUnavailable, match="HTTP 500"):
        hook.submit_lookup("ref-500", ["3001234567"])
    with pytest.raises(ScrapingApiRejected, match="HTTP 422"):
        hook.submit_lookup("ref-422", ["not-a-number"])
    scraping_api.token = "other"
    with pytest.raises(ScrapingApiRejected, match="HTTP 401"):
        hook.submit_lookup("ref-401", ["3001234567"])


def test_failed_lookup_and_unreachable_server(scraping_api, monkeypatch):
    scraping_api.set_knobs(fail_lookups=True, polls_until_done=0)
    hook = ScrapingApiHook()
    lookup = hook.get_lookup(hook.submit_lookup("ref-f", ["3001234567"]))
    assert lookup.status == "failed" and lookup.error
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCRAPING_API", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 1, "schema": "http"})
    )
    with pytest.raises(ScrapingApiUnavailable, match="ConnectionError"):
        ScrapingApiHook().submit_lookup("ref-z", ["3001234567"])


def test_admin_endpoint_sets_knobs(scraping_api):
    import requests

    base = scraping_api.base_url
    assert requests.post(f"{base}/admin/knobs", json={"never_finish": True}, timeout=5).json()["never_finish"]
    assert requests.post(f"{base}/admin/knobs", json={"nope": 1}, timeout=5).status_code == 400
    hook = ScrapingApiHook()
    lookup_id = hook.submit_lookup("ref-n", ["3001234567"])
    assert [hook.get_lookup(lookup_id).status for _ in range(3)] == ["processing"] * 3
    state = requests.get(f"{base}/admin/state", timeout=5).json()
    assert state["lookups"][0]["numbers"] == 1  # counts only: the state page shows no number
