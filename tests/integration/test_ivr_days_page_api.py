"""The IVR days page's HTTP API inside Airflow's real api-server app (``create_app``, plugins loaded
from plugins/, SimpleAuthManager), served by uvicorn on loopback so that the page's own REST calls
(run states, reloads, backfills, made with the caller's token) reach the same Airflow. Business
facts are seeded in the analytics tables, runs are created through Airflow's REST API."""

from __future__ import annotations

import os
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import requests

from tests.e2e.airflow_processes import free_port, run_airflow
from tests.ivr_page_support import (
    XSS_MESSAGE,
    clean_days,
    seed_alert,
    seed_attempt,
    seed_drift,
    seed_metrics,
    seed_rejects,
)
from tests.jobs_page_support import token_for

PREFIX = "/ivr-days"
DAG = "ivr_calls_daily"
PAGE_HEADER = {"X-Ivr-Days-Page": "1"}
MONDAY = date(2017, 3, 6)  # a week nobody else's test uses
BALANCED, REJECTS, FAILED, RUNNING, LATE, NEVER = (MONDAY + timedelta(days=i) for i in range(6))
ACTION_DAY = MONDAY + timedelta(days=7)
DRIFTED = MONDAY - timedelta(days=1)


@pytest.fixture(scope="module")
def base():
    """Airflow's api-server app under uvicorn in a thread; ``[api] base_url`` points at it."""
    import uvicorn

    from airflow.api_fastapi.app import create_app

    from callcentre.ivr import schema

    run_airflow(dict(os.environ), "dags", "reserialize")  # the DAG the runs belong to, in the metadata DB
    schema.migrate()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__API__BASE_URL", url)
    server = uvicorn.Server(uvicorn.Config(create_app("core"), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=30)
    patch.undo()


def bearer(name: str, role: str) -> dict:
    return {"Authorization": "Bearer " + token_for(name, role)}


@pytest.fixture(scope="module")
def admin(base):
    return bearer("ad", "admin")


@pytest.fixture(scope="module")
def viewer(base):
    return bearer("vera", "viewer")


@pytest.fixture(scope="module")
def editor(base):
    return bearer("ed", "user")


class Runs:
    """Runs created by a test, deleted after it (no scheduler runs this metadata DB's DAGs)."""

    def __init__(self, base: str, headers: dict):
        self.base, self.headers, self.ids = base, headers, []

    def create(self, day: date, state: str | None = None) -> str:
        resp = requests.post(f"{self.base}/api/v2/dags/{DAG}/dagRuns", headers=self.headers, timeout=30,
                             json={"logical_date": f"{day}T00:00:00Z"})
        assert resp.status_code == 200, resp.text
        run_id = resp.json()["dag_run_id"]
        self.ids.append(run_id)
        if state:
            patched = requests.patch(f"{self.base}/api/v2/dags/{DAG}/dagRuns/{run_id}", headers=self.headers,
                                     json={"state": state}, timeout=30)
            assert patched.status_code == 200, patched.text
        return run_id

    def delete_all(self) -> None:
        """Every run of this module's days, also those an interrupted earlier session left."""
        found = requests.get(f"{self.base}/api/v2/dags/{DAG}/dagRuns", headers=self.headers, timeout=30, params={
            "logical_date_gte": f"{MONDAY - timedelta(days=1)}T00:00:00Z",
            "logical_date_lte": f"{ACTION_DAY + timedelta(days=2)}T00:00:00Z", "limit": 100}).json()["dag_runs"]
        for run_id in {*self.ids, *(r["dag_run_id"] for r in found)}:
            requests.delete(f"{self.base}/api/v2/dags/{DAG}/dagRuns/{run_id}", headers=self.headers, timeout=30)


@pytest.fixture
def runs(base, admin):
    created = Runs(base, admin)
    created.delete_all()
    yield created
    created.delete_all()


@pytest.fixture
def week():
    days = [MONDAY + timedelta(days=i) for i in range(-1, 8)]
    clean_days(days)
    yield days
    clean_days(days)


def _routes() -> list[tuple[str, str]]:
    from callcentre.ivr_page.app import create_app

    found = []
    for route in create_app().routes:
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD" and route.path != "/static/signin.js":  # public: no data, only the way to sign in
                found.append((method, route.path.replace("{day}", str(BALANCED)).replace("{name}", "page.js")))
    return found


def test_the_plugin_mounts_the_page_and_its_nav_entry(base, admin, viewer):
    plugins = requests.get(f"{base}/api/v2/plugins", headers=admin, timeout=30).json()
    ours = next(p for p in plugins["plugins"] if p["name"] == "ivr_days")
    assert ours["fastapi_apps"][0]["url_prefix"] == PREFIX
    view = ours["external_views"][0]
    assert (view["name"], view["url_route"], view["destination"], view["href"]) == ("IVR days", "ivr-days", "nav", PREFIX + "/")
    page = requests.get(f"{base}{PREFIX}/", headers=viewer, timeout=30)
    assert page.status_code == 200 and '<h1 data-t="title">IVR days</h1>' in page.text


@pytest.mark.parametrize("method,path", _routes())
def test_every_route_refuses_anonymous_and_forged_callers(base, method, path):
    anonymous = requests.request(method, f"{base}{PREFIX}{path}", timeout=30)
    assert anonymous.status_code == 401, (method, path, anonymous.text)
    forged = requests.request(method, f"{base}{PREFIX}{path}", headers={"Authorization": "Bearer not.a.jwt"}, timeout=30)
    assert forged.status_code == 403, (method, path, forged.text)
    for resp in (anonymous, forged):
        assert "days" not in resp.json() and "metrics" not in resp.json()


def test_the_calendar_colours_each_day_by_its_state(base, viewer, runs, week):
    seed_metrics(BALANCED, 1000, 5)
    runs.create(BALANCED, "success")
    seed_metrics(REJECTS, 1000, 50)
    seed_metrics(FAILED, 1000, 5)  # loaded once, then a reload failed: the newest attempt wins
    runs.create(FAILED, "failed")
    runs.create(RUNNING)  # queued: no scheduler here
    seed_alert(LATE, "deadline_missed", "late")
    seed_metrics(DRIFTED, 1000, 5)
    seed_drift(DRIFTED, {3: (41, 40), 16: (12, 0)}, run_id="drift-older", checked_minutes_ago=60, repaired=True)
    seed_drift(DRIFTED, {3: (41, 40)})  # the latest check found drift again, not repaired
    seed_drift(BALANCED, {5: (9, 8)}, repaired=True)  # the check's own repair passed the gate
    seed_drift(REJECTS, {5: (9, 8)}, checked_minutes_ago=60)  # a reload from the page rewrote the metrics since
    resp = requests.get(f"{base}{PREFIX}/api/days", params={"from_day": DRIFTED, "to_day": NEVER}, headers=viewer,
                        timeout=60)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {d["day"]: d["state"] for d in body["days"]} == {
        str(DRIFTED): "drifted", str(BALANCED): "balanced", str(REJECTS): "rejects", str(FAILED): "failed", str(RUNNING): "running",
        str(LATE): "late", str(NEVER): "never_run"}
    by_day = {d["day"]: d for d in body["days"]}
    assert (by_day[str(REJECTS)]["source_calls"], by_day[str(REJECTS)]["rejected_calls"]) == (1000, 50)
    assert [by_day[str(d)]["runs"] for d in (BALANCED, FAILED, RUNNING, NEVER)] == [1, 1, 1, 0]
    assert body["can_trigger"] is False and body["user"] == "vera"
    # The default: the 90 days up to yesterday in the IVR zone (UTC here).
    default = requests.get(f"{base}{PREFIX}/api/days", headers=viewer, timeout=60).json()
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    assert (len(default["days"]), default["to_day"]) == (90, str(yesterday))


def test_a_days_detail_has_its_figures_hours_runs_and_alerts(base, viewer, runs, week):
    seed_metrics(FAILED, 1000, 7)
    seed_rejects(FAILED, {"duration_negative": 4, "caller_missing": 2, "disposition_unknown": 1}, first_id=9_170_300_000)
    seed_attempt(FAILED, 3, "failed", None, error="OperationalError: lost connection", minute=0)
    seed_attempt(FAILED, 3, "success", 40, minute=5)
    seed_attempt(FAILED, 4, "success", 57, minute=1)
    seed_attempt(FAILED, 9, "failed", None, error="AirflowFailException: bad row", minute=2)
    seed_attempt(FAILED, 4, "success", 58, minute=9, dag_id="ivr_drift_check")  # a repair by the drift check
    seed_alert(FAILED, "run_failed", XSS_MESSAGE)
    seed_alert(FAILED, "deadline_missed", "held back by a Slack outage", pending=True)
    run_id = runs.create(FAILED, "failed")
    failed_task = requests.patch(f"{base}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/plan",
                                 json={"new_state": "failed"}, headers=bearer("ad", "admin"), timeout=30)
    assert failed_task.status_code == 200, failed_task.text
    detail = requests.get(f"{base}{PREFIX}/api/days/{FAILED}", headers=viewer, timeout=60).json()
    assert detail["state"] == "failed"
    assert (detail["metrics"]["source_calls"], detail["metrics"]["total_calls"], detail["metrics"]["rejected_calls"]) == (
        1000, 993, 7)
    assert detail["metrics"]["avg_duration_s"] == 120.5
    assert detail["rejects"] == {"duration_negative": 4, "caller_missing": 2, "disposition_unknown": 1}
    hours = {h["hour"]: (h["outcome"], h["rows_read"], h["attempts"]) for h in detail["hours"]}
    assert hours == {3: ("success", 40, 2), 4: ("success", 58, 2), 9: ("failed", None, 1)}
    assert {h["hour"]: h["dag_id"] for h in detail["hours"]}[4] == "ivr_drift_check"
    # verbatim JSON (the page shows it as text); one the outbox has not sent yet says so
    assert [(a["message"], a["pending"]) for a in detail["alerts"]] == [
        (XSS_MESSAGE, False), ("held back by a Slack outage", True)]
    assert [r["run_id"] for r in detail["runs"]] == [run_id]
    assert detail["run_url"] == f"/dags/{DAG}/runs/{requests.utils.quote(run_id, safe='')}"
    assert detail["log_url"] == detail["run_url"] + "/tasks/plan"  # the task that failed
    assert detail["deadline"] == f"{FAILED + timedelta(days=1)}T06:00:00+00:00"

    chart = requests.get(f"{base}{PREFIX}/api/days/{FAILED}/rejects.svg", params={"lang": "es"}, headers=viewer, timeout=30)
    assert chart.headers["content-type"].startswith("image/svg+xml") and "nosniff" == chart.headers["x-content-type-options"]
    assert "Llamadas rechazadas por regla" in chart.text and "data-rule='duration_negative' data-count='4'" in chart.text
    strip = requests.get(f"{base}{PREFIX}/api/days/{FAILED}/hours.svg", headers=viewer, timeout=30).text
    assert "data-hour='3' data-state='success' data-tries='2'" in strip
    assert "data-hour='9' data-state='failed' data-tries='1'" in strip


def test_a_drifted_days_detail_says_which_hours_and_when(base, viewer, week):
    seed_metrics(DRIFTED, 1000, 5)
    seed_drift(DRIFTED, {16: (12, 0), 3: (41, 40)}, run_id="scheduled__drift")
    detail = requests.get(f"{base}{PREFIX}/api/days/{DRIFTED}", headers=viewer, timeout=60).json()
    assert detail["state"] == "drifted"
    drift = detail["drift"]
    assert (drift["run_id"], drift["hours"], drift["repair_error"]) == ("scheduled__drift", [3, 16], None)
    assert datetime.fromisoformat(drift["checked_at"]) > datetime.now(timezone.utc) - timedelta(minutes=5)
    assert [(h["hour"], h["source_rows"], h["target_rows"], h["reloaded_at"]) for h in drift["hour_figures"]] == [
        (3, 41, 40, None), (16, 12, 0, None)]
    seed_metrics(BALANCED, 1000, 5)
    assert requests.get(f"{base}{PREFIX}/api/days/{BALANCED}", headers=viewer, timeout=60).json()["drift"] is None


def test_without_read_access_to_the_runs_nothing_is_read(base, runs, week):
    """A signed-in person whom the auth manager gives no DAG rights reads no day, and the runs'
    reader refuses them itself, whichever route calls it."""
    from zoneinfo import ZoneInfo

    from fastapi import HTTPException

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.session import create_session
    from callcentre.ivr_page import app

    runs.create(BALANCED, "success")
    nobody = {"Authorization": "Bearer " + token_for("nora", None)}
    for path in ("/api/days", f"/api/days/{BALANCED}"):
        resp = requests.get(f"{base}{PREFIX}{path}", headers=nobody, timeout=30)
        assert resp.status_code == 403 and "days" not in resp.json() and "runs" not in resp.json(), resp.text
    utc = ZoneInfo("UTC")
    with create_session() as session:
        with pytest.raises(HTTPException) as refused:
            app.runs_by_day(session, SimpleAuthManagerUser(username="nora", role=None), BALANCED, BALANCED, utc, utc)
        assert refused.value.status_code == 403
        allowed = app.runs_by_day(session, SimpleAuthManagerUser(username="vera", role="viewer"), MONDAY, NEVER, utc, utc)
    assert [(day, [r["state"] for r in found]) for day, found in allowed.items()] == [(BALANCED, ["success"])]


def test_a_viewer_reads_but_cannot_act(base, viewer):
    for path, body in ((f"/api/days/{ACTION_DAY}/reload", {"hours": [5]}),
                       ("/api/backfills", {"from_day": str(ACTION_DAY), "to_day": str(ACTION_DAY)})):
        resp = requests.post(f"{base}{PREFIX}{path}", json=body, headers={**viewer, **PAGE_HEADER}, timeout=30)
        assert resp.status_code == 403, resp.text


def test_actions_with_the_session_cookie_need_the_pages_header_and_act_as_the_caller(base, admin, runs, week):
    cookie = {"_token": token_for("ed", "user")}
    url = f"{base}{PREFIX}/api/days/{ACTION_DAY}/reload"

    def reload(body: dict, headers=PAGE_HEADER):
        return requests.post(url, json=body, cookies=cookie, headers=headers, timeout=60)

    refused = reload({}, headers={})
    assert refused.status_code == 403 and "X-Ivr-Days-Page" in refused.json()["detail"]
    first = reload({})  # no run yet: a new run of the whole day
    assert first.status_code == 200, first.text
    run_id = first.json()["run"]["run_id"]
    runs.ids.append(run_id)
    assert first.json()["action"] == "triggered"
    made = requests.get(f"{base}/api/v2/dags/{DAG}/dagRuns/{run_id}", headers=admin, timeout=30).json()
    assert (made["logical_date"], made["conf"], made["triggering_user_name"]) == (f"{ACTION_DAY}T00:00:00Z", {}, "ed")
    # Again: Airflow keeps one run per logical date, so the day's run is cleared, not duplicated.
    again = reload({})
    assert again.status_code == 200, again.text
    assert (again.json()["action"], again.json()["run"]["run_id"]) == ("cleared", run_id)
    assert again.json()["tasks"] > 0
    # One hour of a run whose plan has not expanded the hours yet (no scheduler here): said so.
    hour = reload({"hours": [5]})
    assert hour.status_code == 409 and "no load_hour task for hour(s) 5" in hour.json()["detail"]
    assert requests.get(f"{base}{PREFIX}/api/days/{ACTION_DAY}", headers=admin, timeout=30).json()["state"] == "running"


def test_one_hour_of_a_day_without_a_run_is_a_new_run_of_that_hour(base, admin, editor, runs, week):
    resp = requests.post(f"{base}{PREFIX}/api/days/{ACTION_DAY}/reload", json={"hours": [7, 5, 7]}, headers=editor,
                         timeout=60)
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["run"]["run_id"]
    runs.ids.append(run_id)
    assert resp.json()["action"] == "triggered" and resp.json()["run"]["hours"] == [5, 7]
    made = requests.get(f"{base}/api/v2/dags/{DAG}/dagRuns/{run_id}", headers=admin, timeout=30).json()
    assert made["conf"] == {"hours": [5, 7]}
    # The whole day now: the only free logical date is taken (every zone is UTC here), and the only
    # run is a part-day one, so the page says what to do instead of loading a part as the day.
    day = requests.post(f"{base}{PREFIX}/api/days/{ACTION_DAY}/reload", json={}, headers=editor, timeout=60)
    assert day.status_code == 409 and "none of them a full-day run" in day.json()["detail"]


@pytest.mark.parametrize("path,body,fragment", [
    (f"/api/days/{ACTION_DAY}/reload", {"hours": [24]}, "less than or equal to 23"),
    ("/api/days/2014-12-31/reload", {}, "IVR_FIRST_BUSINESS_DAY"),
    (f"/api/days/{date.today() + timedelta(days=2)}/reload", {}, "has not ended yet"),
    ("/api/backfills", {"from_day": "2017-03-10", "to_day": "2017-03-01"}, "is after"),
    ("/api/backfills", {"from_day": "2017-01-01", "to_day": "2018-06-01"}, "at most 366"),
    ("/api/backfills", {"from_day": "2017-03-01", "to_day": "2017-03-02", "reprocess": "all"}, "reprocess"),
])
def test_bad_actions_are_refused_by_name_before_reaching_airflow(base, editor, path, body, fragment):
    resp = requests.post(f"{base}{PREFIX}{path}", json=body, headers=editor, timeout=30)
    assert resp.status_code == 422, resp.text
    assert fragment in str(resp.json()["detail"])


def test_a_backfill_is_created_as_the_caller(base, admin, editor, runs):
    resp = requests.post(f"{base}{PREFIX}/api/backfills", json={
        "from_day": str(ACTION_DAY), "to_day": str(ACTION_DAY + timedelta(days=1)), "reprocess": "none"},
        headers=editor, timeout=60)
    assert resp.status_code == 200, resp.text
    backfill_id = resp.json()["backfill_id"]
    try:
        backfill = requests.get(f"{base}/api/v2/backfills/{backfill_id}", headers=admin, timeout=30).json()
        assert (backfill["dag_id"], backfill["from_date"][:10], backfill["to_date"][:10]) == (
            DAG, str(ACTION_DAY), str(ACTION_DAY + timedelta(days=1)))
    finally:
        requests.put(f"{base}/api/v2/backfills/{backfill_id}/cancel", headers=admin, timeout=30)
        made = requests.get(f"{base}/api/v2/dags/{DAG}/dagRuns", params={"run_type": "backfill",
                            "logical_date_gte": f"{ACTION_DAY}T00:00:00Z"}, headers=admin, timeout=30).json()
        runs.ids.extend(r["dag_run_id"] for r in made["dag_runs"])


@pytest.mark.parametrize("params,fragment", [
    ({"from_day": "2017-03-10", "to_day": "2017-03-01"}, "is after"),
    ({"from_day": "2000-01-01", "to_day": "2017-03-01"}, "at most"),
    ({"from_day": "2017-13-01"}, "from_day"),
    ({"reject_threshold": 2}, "reject_threshold"),
])
def test_bad_calendar_parameters_are_refused_by_name(base, viewer, params, fragment):
    resp = requests.get(f"{base}{PREFIX}/api/days", params=params, headers=viewer, timeout=30)
    assert resp.status_code == 422
    assert fragment in str(resp.json()["detail"])


def test_the_page_is_locked_down(base, viewer):
    page = requests.get(f"{base}{PREFIX}/", headers=viewer, timeout=30)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'self'" in csp and page.headers["x-content-type-options"] == "nosniff"
    script = requests.get(f"{base}{PREFIX}/static/page.js", headers=viewer, timeout=30).text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert requests.get(f"{base}{PREFIX}/static/other.js", headers=viewer, timeout=30).status_code == 404
