"""The "IVR days" page in a real browser: headless Debian Chromium driven by Selenium against a real
``airflow api-server`` and scheduler (tests/e2e/airflow_processes.ivr_airflow), MariaDB and
PostgreSQL.

A person's visit: log in, open the nav entry, read the calendar (seeded days of each state), open
a failed day and follow its run link out of the iframe, reload one hour of a day from the page and
then one hour (after the source changed), watching the day turn loaded and its figures follow, then the page in Spanish after switching the Airflow language, dates in
the chosen time zone. Screenshots (also 400 px wide) go to .local/screenshots/.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.airflow_processes import free_port, ivr_airflow, rest_client
from tests.e2e.test_jobs_page_browser import CHROMEDRIVER, CHROMIUM, SHOTS, browser  # noqa: F401 - fixture
from tests.integration.ivr_support import ensure_tables, make_call, query, reset_day
from tests.ivr_page_support import XSS_MESSAGE, clean_days, seed_alert, seed_drift, seed_metrics, seed_rejects

DAG = "ivr_calls_daily"
MONDAY = date(2017, 4, 3)  # a week no other test uses
BALANCED, REJECTS, LATE, NEVER, FAILED = (MONDAY + timedelta(days=i) for i in range(5))
FIRST_DAY = FAILED + timedelta(days=1)  # IVR_FIRST_BUSINESS_DAY: a run of FAILED fails in plan
DRIFTED = FIRST_DAY
RELOADED = MONDAY + timedelta(days=7)
HOUR = 5
CALLS = 7
RUN_S = 240  # generous for a busy 2-core machine; the run takes ~30 s

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="chromium/chromium-driver missing: `make install` installs them",
)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Seeded days, then api-server + scheduler; yields the base URL and an admin REST client."""
    from callcentre.ivr import schema, synthetic

    ensure_tables()
    schema.migrate()
    days = [MONDAY + timedelta(days=i) for i in range(8)]
    clean_days(days)
    reset_day(RELOADED)
    seed_metrics(BALANCED, 1000, 5)
    seed_metrics(REJECTS, 1000, 50)
    seed_rejects(REJECTS, {"duration_negative": 30, "caller_missing": 15, "disposition_unknown": 5}, 9_170_410_000)
    seed_alert(LATE, "deadline_missed", "IVR business day not loaded by its deadline")
    seed_alert(FAILED, "run_failed", XSS_MESSAGE)  # what the run's callback records (it runs in the dag-processor)
    seed_metrics(DRIFTED, 1000, 5)
    seed_drift(DRIFTED, {7: (130, 128), 22: (4, 0)})  # what the drift check records when it finds drift
    start = datetime.combine(RELOADED, datetime.min.time()) + timedelta(hours=HOUR)
    synthetic.write_calls([make_call(9_170_400_000 + i, start + timedelta(minutes=i)) for i in range(CALLS)])
    port = free_port()
    # No scheduled run of yesterday: only the runs this test makes share the two cores.
    env = dict(os.environ, IVR_FIRST_BUSINESS_DAY=str(FIRST_DAY), AIRFLOW__API__PORT=str(port),
               AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}", AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False")
    client = rest_client(env)
    try:
        with ivr_airflow(env, tmp_path_factory.mktemp("ivr-days")):
            _delete_runs(client)
            resp = client.request("POST", f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": f"{FAILED}T00:00:00Z"})
            assert resp.status_code == 200, resp.text
            yield env["AIRFLOW__API__BASE_URL"], client
            _delete_runs(client)
    finally:
        clean_days(days)
        reset_day(RELOADED)


def _delete_runs(client) -> None:
    found = client.request("GET", f"/api/v2/dags/{DAG}/dagRuns?logical_date_gte={MONDAY - timedelta(days=1)}T00:00:00Z"
                                  f"&logical_date_lte={RELOADED + timedelta(days=1)}T00:00:00Z&limit=100").json()
    for run in found["dag_runs"]:
        client.request("DELETE", f"/api/v2/dags/{DAG}/dagRuns/{run['dag_run_id']}")


def _wait(driver, condition, what: str, timeout: float = 60):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        _shot(driver, "timeout-" + "".join(c if c.isalnum() else "-" for c in what)[:40])
        pytest.fail(f"timed out after {timeout}s waiting for {what} (at {driver.current_url})")


def _shot(driver, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"ivr-days-{name}.png"))


def _open_page(driver, base: str) -> None:
    """The nav entry opened; the driver is left inside the page's iframe."""
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    driver.get(base + "/plugin/ivr-days")
    frame = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"), "the page's iframe")[0]
    driver.switch_to.frame(frame)
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button.day"), "the calendar")
    for field, day in (("r-from", MONDAY), ("r-to", RELOADED)):
        driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, field), str(day))
    driver.find_element(By.ID, "r-apply").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"button.day[data-day='{MONDAY}']"), "the seeded week")


def _states(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {b.get_attribute("data-day"): b.get_attribute("data-state")
            for b in driver.find_elements(By.CSS_SELECTOR, "button.day")}


def _show_day(driver, day: date) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"button.day[data-day='{day}']").click()
    _wait(driver, lambda d: d.find_element(By.ID, "d-title").text == str(day), f"the detail of {day}")


@pytest.fixture(scope="module")
def page(airflow, browser):  # noqa: F811 - the jobs page module's browser fixture
    from selenium.webdriver.common.by import By

    base, _ = airflow
    password = json.loads(
        (Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    browser.set_window_size(1400, 1000)
    browser.get(base + "/")
    browser.execute_script("localStorage.setItem('i18nextLng', 'en'); localStorage.removeItem('timezone')")
    browser.get(base + "/")
    _wait(browser, lambda d: d.find_elements(By.NAME, "username"), "the login form")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    entry = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "a[href$='/plugin/ivr-days']"),
                  "the 'IVR days' nav entry")
    entry[0].click()
    _wait(browser, lambda d: "/plugin/ivr-days" in d.current_url, "the plugin route")
    _open_page(browser, base)
    return browser


def test_the_calendar_shows_each_state_and_a_failed_day_links_out_of_the_iframe(page, airflow):
    from selenium.webdriver.common.by import By

    base, _ = airflow
    _wait(page, lambda d: _states(d).get(str(FAILED)) == "failed", "the failed run of the day before the first one",
          timeout=RUN_S)
    states = _states(page)
    assert {day: states[str(day)] for day in (BALANCED, REJECTS, LATE, NEVER, FAILED, DRIFTED)} == {
        BALANCED: "balanced", REJECTS: "rejects", LATE: "late", NEVER: "never_run", FAILED: "failed",
        DRIFTED: "drifted"}
    assert "signed in as admin" in page.find_element(By.ID, "who").text
    _shot(page, "01-calendar")

    _show_day(page, DRIFTED)  # which hours differ from the source, and since when
    assert page.find_element(By.ID, "d-drift").is_displayed()
    assert "found hours 07, 22 different from the source" in page.find_element(By.ID, "d-drift-when").text
    assert [li.text for li in page.find_elements(By.CSS_SELECTOR, "#d-drift-hours li")] == [
        "07: source 130 rows, loaded 128 rows", "22: source 4 rows, loaded 0 rows"]
    page.set_window_size(400, 900)
    page.execute_script("arguments[0].scrollIntoView()", page.find_element(By.ID, "detail"))
    _shot(page, "01a-drifted-400px")
    page.set_window_size(1400, 1000)

    _show_day(page, REJECTS)  # the bar chart: an image the browser drew (its natural width > 0)
    _wait(page, lambda d: d.execute_script("return document.getElementById('d-rejects').naturalWidth") > 0,
          "the rejects chart")
    page.set_window_size(400, 900)
    page.execute_script("arguments[0].scrollIntoView()", page.find_element(By.ID, "detail"))
    _shot(page, "01b-rejects-400px")
    page.set_window_size(1400, 1000)

    _show_day(page, FAILED)
    alert = page.find_element(By.CSS_SELECTOR, "#d-alerts pre.alert")
    assert alert.text == XSS_MESSAGE  # shown as text, not markup
    assert not page.find_elements(By.CSS_SELECTOR, "#d-alerts script, #d-alerts img")
    run_link = page.find_element(By.CSS_SELECTOR, "#d-links a.run-link")
    run_id = page.find_element(By.CSS_SELECTOR, "#d-runs li").get_attribute("data-run")
    run_href = run_link.get_attribute("href")
    run_link.click()
    page.switch_to.default_content()
    _wait(page, lambda d: f"/dags/{DAG}/runs/" in d.current_url and not d.find_elements(By.CSS_SELECTOR, "iframe")
          and run_id in d.find_element(By.TAG_NAME, "body").text, "the Airflow run page in the top window")
    _shot(page, "02-run-page-from-the-link")

    _open_page(page, base)  # the logs link: the task that failed, its log in the Airflow window
    _show_day(page, FAILED)
    logs = page.find_element(By.CSS_SELECTOR, "#d-links a.logs-link")
    href = logs.get_attribute("href")
    assert href.startswith(run_href + "/tasks/")  # a task of the newest run
    logs.click()
    page.switch_to.default_content()
    _wait(page, lambda d: d.current_url == href and not d.find_elements(By.CSS_SELECTOR, "iframe"),
          "the failed task's page in the top window")
    _wait(page, lambda d: "plan" in d.find_element(By.TAG_NAME, "body").text, "the failed task shown")
    _shot(page, "02b-logs-page-from-the-link")


def test_a_read_only_colleague_sees_the_days_but_cannot_act(page, airflow):
    """A viewer's session (cookie) in the same browser: the calendar and a day, no reload buttons,
    no backfill form, and what a reload button would send is refused; once the session has ended,
    the next call leads to Airflow's sign-in page."""
    from selenium.webdriver.common.by import By

    from tests.e2e.test_jobs_page_browser import _token

    base, _ = airflow
    page.switch_to.default_content()
    admin = page.get_cookie("_token")["value"]
    page.add_cookie({"name": "_token", "value": _token("vera", "viewer"), "path": "/"})
    try:
        _open_page(page, base)
        assert "signed in as vera" in page.find_element(By.ID, "who").text
        _show_day(page, FAILED)
        assert not page.find_element(By.ID, "d-actions").is_displayed()
        assert not page.find_element(By.ID, "backfill-box").is_displayed()
        status = page.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            f"fetch('api/days/{FAILED}/reload', {{method: 'POST', body: '{{\"hours\": []}}',"
            " headers: {'X-Ivr-Days-Page': '1', 'Content-Type': 'application/json'}}).then((r) => done(r.status));")
        assert status == 403

        # The session ends while the page is open: its next call sends the window to the sign-in page.
        page.add_cookie({"name": "_token", "value": _token("vera", "viewer", expiration_time_in_seconds=-60),
                         "path": "/"})
        page.find_element(By.ID, "r-apply").click()
        page.switch_to.default_content()
        _wait(page, lambda d: "/login" in d.current_url and "ivr-days" in d.current_url, "the sign-in page", timeout=30)
    finally:
        page.switch_to.default_content()
        page.add_cookie({"name": "_token", "value": admin, "path": "/"})


def _figure(driver, key: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#d-figures dd[data-k='{key}']").text


def _hour_cells(driver, hour: int) -> list[str]:
    """The hour's row of the folded hours table: hour, state, read, loaded, rejected, tries, error."""
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, f"#d-hours-table tr[data-hour='{hour}']")
    return [td.get_attribute("textContent") for td in row.find_elements(By.TAG_NAME, "td")]


def test_reload_the_day_then_one_hour_from_the_page(page, airflow):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from callcentre.ivr import synthetic

    base, _ = airflow
    _open_page(page, base)
    assert _states(page)[str(RELOADED)] == "never_run"
    _show_day(page, RELOADED)
    page.find_element(By.ID, "reload-day").click()  # no run yet: a new run of the whole day
    report = _wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#action-report li.ok"), "the report")
    assert "started" in report[0].text
    _wait(page, lambda d: _states(d).get(str(RELOADED)) == "balanced", "the day turning loaded", timeout=RUN_S)
    _wait(page, lambda d: _figure(d, "loadedCalls") == str(CALLS), "the day's figures")

    # Three more calls reach the source in that hour; reloading the hour (a clear of its map index
    # and what follows) brings them in and recomputes the day.
    start = datetime.combine(RELOADED, datetime.min.time()) + timedelta(hours=HOUR, minutes=30)
    synthetic.write_calls([make_call(9_170_400_100 + i, start + timedelta(minutes=i)) for i in range(3)])
    Select(page.find_element(By.ID, "reload-hour-pick")).select_by_value(str(HOUR))
    page.find_element(By.ID, "reload-hour").click()
    report = _wait(page, lambda d: [li for li in d.find_elements(By.CSS_SELECTOR, "#action-report li.ok")
                                    if "cleared" in li.text], "the hour's report")
    assert f"hours {HOUR}" in report[0].text
    _wait(page, lambda d: _figure(d, "loadedCalls") == str(CALLS + 3) and _states(d).get(str(RELOADED)) == "balanced",
          "the hour reloaded and the day recomputed", timeout=RUN_S)
    hour = _hour_cells(page, HOUR)
    assert (hour[2], hour[3], hour[5]) == (str(CALLS + 3), str(CALLS + 3), "2")  # read, loaded, tries
    assert query("SELECT count(*) FROM analytics.calls WHERE business_date = %s AND local_hour = %s",
                 (RELOADED, HOUR)) == [(CALLS + 3,)]
    _shot(page, "03-hour-reloaded")
    page.set_window_size(400, 900)
    page.execute_script("arguments[0].scrollIntoView()", page.find_element(By.ID, "detail"))
    _shot(page, "04-hour-reloaded-400px")
    page.set_window_size(1400, 1000)


def test_the_page_follows_the_airflow_language_and_time_zone(page, airflow):
    from selenium.webdriver.common.by import By

    base, _ = airflow
    page.switch_to.default_content()
    # What the UI's language and time zone menus store (i18next's cache; the UI's useLocalStorage).
    page.execute_script("localStorage.setItem('i18nextLng', 'es');"
                        "localStorage.setItem('timezone', JSON.stringify('America/Bogota'))")
    page.set_window_size(400, 900)
    _open_page(page, base)
    page.switch_to.default_content()  # the UI itself read the same keys: its own nav is Spanish, its clock Bogota's
    ui = page.find_element(By.TAG_NAME, "body").text  # the nav bar's labels and clock (not the iframe's)
    assert "Inicio" in ui and "-05:00" in ui, ui
    page.switch_to.frame(page.find_element(By.CSS_SELECTOR, "iframe"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Días del IVR"
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    legend = {li.get_attribute("data-state"): li.text for li in page.find_elements(By.CSS_SELECTOR, "#legend li")}
    assert legend["late"].startswith("atrasado") and legend["never_run"].startswith("nunca ejecutado")
    _shot(page, "05-spanish-400px")
    _show_day(page, LATE)
    # Deadline: the end of the day + 6 h UTC = 01:00 in Bogota (UTC-5).
    deadline = page.find_element(By.CSS_SELECTOR, "#d-figures dd[data-k='deadline']").text
    assert "1:00" in deadline and "abr" in deadline, deadline
    page.execute_script("arguments[0].scrollIntoView()", page.find_element(By.ID, "detail"))
    _shot(page, "06-spanish-day-400px")
    page.switch_to.default_content()
    page.execute_script("localStorage.setItem('i18nextLng', 'en'); localStorage.removeItem('timezone')")
    page.set_window_size(1400, 1000)
