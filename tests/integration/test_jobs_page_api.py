"""The jobs page's HTTP API inside Airflow's real api-server app (``create_app``, plugins loaded from
plugins/, SimpleAuthManager), on the real job table: security, filters, search, sorting, paging,
downloads and the upload checks that refuse a file before anything is stored or triggered."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.jobs_page_support import XSS_ERROR, XSS_NAME, delete_jobs, insert_job, new_tag, token_for
from tests.scraping_fixtures import *  # noqa: F403 - fixtures
from tests.scraping_fixtures import make_workbook, random_numbers, raw_xlsx

PREFIX = "/scraping-jobs"
PAGE_HEADER = {"X-Scraping-Jobs-Page": "1"}


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app

    with TestClient(create_app("core")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def viewer(client):
    return {"Authorization": "Bearer " + token_for("vera", "viewer")}


@pytest.fixture(scope="module")
def editor(client):
    return {"Authorization": "Bearer " + token_for("ed", "user")}


@pytest.fixture
def tag():
    tag = new_tag()
    yield tag
    delete_jobs(tag)


def _routes() -> list[tuple[str, str]]:
    from callcentre.scraping_page.app import create_app

    found = []
    for route in create_app().routes:
        if route.path == "/static/signin.js":  # public: it only sends a signed-out person to the login page
            continue
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD":
                found.append((method, route.path.replace("{job_id}", "1").replace("{name}", "page.js")
                              .replace("{dag_id}", "scraping_upload")))
    return found


def test_the_plugin_mounts_the_page_and_its_nav_entry(client, viewer):
    plugins = client.get("/api/v2/plugins", headers={"Authorization": "Bearer " + token_for("ad", "admin")}).json()
    ours = next(p for p in plugins["plugins"] if p["name"] == "scraping_jobs")
    assert ours["fastapi_apps"][0]["url_prefix"] == PREFIX
    view = ours["external_views"][0]
    assert (view["name"], view["url_route"], view["destination"], view["href"]) == (
        "Scraping jobs", "scraping-jobs", "nav", PREFIX + "/")
    page = client.get(PREFIX + "/", headers=viewer)
    assert page.status_code == 200 and ">Scraping jobs</h1>" in page.text


@pytest.mark.parametrize("method,path", _routes())
def test_every_route_refuses_anonymous_and_forged_callers(client, method, path):
    anonymous = client.request(method, PREFIX + path)
    assert anonymous.status_code == 401, (method, path, anonymous.text)
    forged = client.request(method, PREFIX + path, headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 403, (method, path, forged.text)
    if path == "/":  # the page itself: a page that sends the browser to Airflow's login, nothing else
        for resp in (anonymous, forged):
            assert 'data-signed-out="1"' in resp.text and '<script src="static/signin.js">' in resp.text
            assert "<table" not in resp.text
    else:
        assert "jobs" not in anonymous.json() and "jobs" not in forged.json()


def test_an_ended_session_leads_to_the_login_page(client):
    """An expired cookie: the page answers with the sign-in hop, the API with 401 (page.js then hops)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    expired = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="vera", role="viewer"),
                                              expiration_time_in_seconds=-60)
    client.cookies.set("_token", expired)
    try:
        page = client.get(PREFIX + "/")
        assert page.status_code == 401 and 'data-signed-out="1"' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        listed = client.get(PREFIX + "/api/jobs")
        assert listed.status_code == 401 and listed.json()["detail"] == "Token Expired"
    finally:
        client.cookies.clear()
    script = client.get(PREFIX + "/static/signin.js")
    assert script.status_code == 200 and "api/v2/auth/login?next=" in script.text
    assert client.get(PREFIX + "/static/page.js").status_code == 401  # the rest stays behind the login


def test_a_viewer_reads_but_cannot_act(client, viewer, editor, tag):
    job_id = insert_job(tag, status="failed", uploader=tag)
    listed = client.get(PREFIX + "/api/jobs", params={"uploader": tag}, headers=viewer)
    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()["jobs"]] == [job_id]
    assert listed.json()["can_edit"] is False and listed.json()["can_trigger"] is False
    for path in ("/api/jobs/retry", "/api/jobs/timeout"):
        assert client.post(PREFIX + path, json={"job_ids": [job_id]}, headers=viewer).status_code == 403
    upload = client.post(PREFIX + "/api/uploads", files={"file": ("a.xlsx", b"PK")}, headers=viewer)
    assert upload.status_code == 403
    assert client.get(PREFIX + "/api/jobs", params={"uploader": tag}, headers=editor).json()["can_edit"] is True


def test_actions_with_the_session_cookie_need_the_pages_header(client, tag):
    """A cross-site form post carries the cookie but cannot add a custom header (CSRF)."""
    job_id = insert_job(tag, status="completed", uploader=tag)
    client.cookies.set("_token", token_for("ed", "user"))
    try:
        refused = client.post(PREFIX + "/api/jobs/retry", json={"job_ids": [job_id]})
        assert refused.status_code == 403 and "X-Scraping-Jobs-Page" in refused.json()["detail"]
        # Only a token in the header stands in for the page header: any other Authorization value
        # leaves the cookie as the credential, so it must not open the door.
        for other in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Token abc", "x"):
            forged = client.post(PREFIX + "/api/jobs/retry", json={"job_ids": [job_id]}, headers={"Authorization": other})
            assert forged.status_code == 403 and "X-Scraping-Jobs-Page" in forged.json()["detail"], other
        accepted = client.post(PREFIX + "/api/jobs/retry", json={"job_ids": [job_id]}, headers=PAGE_HEADER)
        assert accepted.status_code == 200
        # A completed job is not retried: the per-job report says why, nothing reaches Airflow.
        assert accepted.json()["actions"] == [
            {"job_id": job_id, "outcome": "skipped", "message": f"job {job_id} is completed: nothing to retry"}]
    finally:
        client.cookies.clear()


def test_filters_search_sort_and_paging(client, viewer, tag):
    base = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    ids = {}
    for i in range(12):
        ids[i] = insert_job(
            tag, uploader=f"{tag}{'ana' if i % 2 else 'bea'}", status=("failed", "completed", "timeout")[i % 3],
            file_name=f"lista_{i:02d}.xlsx", created_at=base + timedelta(days=i),
        )

    def listed(**params):
        resp = client.get(PREFIX + "/api/jobs", params={"search": tag, **params}, headers=viewer)
        assert resp.status_code == 200, resp.text
        return resp.json()

    everything = listed(page_size=200)
    assert everything["total"] == 12
    assert [j["id"] for j in everything["jobs"]] == [ids[i] for i in reversed(range(12))]  # newest first
    assert {j["id"] for j in listed(status="failed")["jobs"]} == {ids[i] for i in (0, 3, 6, 9)}
    assert {j["id"] for j in listed(status=["failed", "timeout"])["jobs"]} == {ids[i] for i in range(12) if i % 3 != 1}
    window = listed(created_from=(base + timedelta(days=2)).isoformat(), created_to=(base + timedelta(days=5)).isoformat())
    assert {j["id"] for j in window["jobs"]} == {ids[2], ids[3], ids[4]}  # from inclusive, to exclusive
    assert {j["id"] for j in listed(uploader=f"{tag}ana")["jobs"]} == {ids[i] for i in range(1, 12, 2)}
    # Search: a job id, a part of the file name, a part of the uploader (case-insensitive).
    assert [j["id"] for j in client.get(PREFIX + "/api/jobs", params={"search": f"#{ids[7]}"},
                                        headers=viewer).json()["jobs"]] == [ids[7]]
    only_07 = client.get(PREFIX + "/api/jobs", params={"search": "LISTA_07", "uploader": f"{tag}ana"}, headers=viewer)
    assert [j["id"] for j in only_07.json()["jobs"]] == [ids[7]]
    assert listed(search=f"{tag}BE".upper().lower())["total"] == 6
    # LIKE wildcards typed by a user are literal: "lista%" matches no file name.
    assert client.get(PREFIX + "/api/jobs", params={"search": "lista%", "uploader": f"{tag}ana"},
                      headers=viewer).json()["total"] == 0
    # Sorting and paging: pages are disjoint and together give the whole sorted list.
    pages = [listed(sort="file_name", order="asc", page=p, page_size=5) for p in (1, 2, 3)]
    assert [p["pages"] for p in pages] == [3, 3, 3]
    assert [j["file_name"] for p in pages for j in p["jobs"]] == [f"lista_{i:02d}.xlsx" for i in range(12)]
    assert [j["file_name"] for j in listed(sort="file_name", order="desc", page_size=3)["jobs"]] == [
        "lista_11.xlsx", "lista_10.xlsx", "lista_09.xlsx"]


def test_a_script_with_its_own_token_needs_no_page_header(client, editor, tag):
    job_id = insert_job(tag, status="completed", uploader=tag)
    resp = client.post(PREFIX + "/api/jobs/retry", json={"job_ids": [job_id]}, headers=editor)
    assert resp.status_code == 200 and resp.json()["actions"][0]["outcome"] == "skipped"


@pytest.mark.parametrize("params,fragment", [
    ({"sort": "file_name; DROP TABLE scraping.jobs"}, "sort"),
    ({"sort": "content_sha256"}, "sort"),
    ({"order": "sideways"}, "order"),
    ({"page_size": 1000}, "page_size"),
    ({"page": 0}, "page"),
    ({"status": "lost"}, "status"),
    ({"created_from": "2026-11-01T00:00:00"}, "created_from"),
    ({"page": 9223372036854775807}, "page"),
    ({"page": 10**30}, "page"),
    ({"search": "ana\x00"}, "search"),
    ({"uploader": "\x00"}, "uploader"),
    ({"uploader": "a" * 201}, "uploader"),
    ({"created_to": "0001-01-01T00:00:00+14:00"}, "created_to"),
    ({"status": ["failed"] * 7}, "status"),
])
def test_bad_list_parameters_are_refused_by_name(client, viewer, params, fragment):
    resp = client.get(PREFIX + "/api/jobs", params=params, headers=viewer)
    assert resp.status_code == 422
    assert fragment in str(resp.json()["detail"])


_NASTY = ["", "0", "-1", "1e9", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1" * 400,
          "\x00", "a\x00b", "\x1b[31m", "\U0001F600", "%", "_", "\\", "'", "\"", "#", "#-1", "#" + "9" * 30,
          "NaN", "inf", "true", "[]", "{}", "asc", "desc", "id", "created_at", "2026-11-23", "2026-11-23T00:00:00Z",
          "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:00", "2026-02-30T00:00:00Z", "x" * 5000]
_PARAMS = ["status", "created_from", "created_to", "uploader", "search", "sort", "order", "page", "page_size"]


def test_no_list_parameter_value_gives_a_server_error(client, viewer):
    """Fuzz: every parameter with awkward values, alone and mixed; only 200 or a 422 naming the problem."""
    rng = random.Random(23)
    cases = [{name: value} for name in _PARAMS for value in _NASTY]
    cases += [{name: rng.choice(_NASTY) for name in rng.sample(_PARAMS, rng.randint(2, len(_PARAMS)))}
              for _ in range(150)]
    for params in cases:
        resp = client.get(PREFIX + "/api/jobs", params=params, headers=viewer)
        assert resp.status_code in (200, 422), (params, resp.status_code, resp.text[:300])
        if resp.status_code == 422:
            assert resp.json()["detail"], params
    for raw in ("search=%ED%A0%80", "uploader=%FF%FE", "page=%00", "search=%", "status=%C0%80"):  # not UTF-8
        resp = client.get(f"{PREFIX}/api/jobs?{raw}", headers=viewer)
        assert resp.status_code in (200, 422), (raw, resp.status_code, resp.text[:300])
    for path in ("/api/jobs/9223372036854775808/results", "/api/jobs/-1/logs", "/api/jobs/99999999999999999999/logs",
                 "/api/jobs/0/results"):
        assert client.get(PREFIX + path, headers=viewer).status_code == 422, path
    huge = client.post(PREFIX + "/api/jobs/retry", json={"job_ids": [2**63]},
                       headers={"Authorization": "Bearer " + token_for("ed", "user")})
    assert huge.status_code == 422


def test_the_list_says_which_scraping_dags_are_paused_and_who_may_unpause(client, viewer):
    """The metadata DB of this leg holds no parsed DAGs; the e2e test pauses a real one."""
    listed = client.get(PREFIX + "/api/jobs", headers=viewer).json()
    assert all(set(d) == {"dag_id", "paused", "stops", "url", "can_unpause"} for d in listed["dags"])
    assert listed["status_words"]["timeout"] == "Timed out"
    refused = client.post(PREFIX + "/api/dags/scraping_upload/unpause", headers={**viewer, **PAGE_HEADER})
    assert refused.status_code == 403
    admin = {"Authorization": "Bearer " + token_for("ad", "admin")}
    assert client.post(PREFIX + "/api/dags/ivr_calls_daily/unpause", headers=admin).status_code == 404


def test_user_text_comes_back_as_data_and_the_page_is_locked_down(client, viewer, tag):
    """The API returns names and errors verbatim as JSON; the page renders them as text (browser
    test) under a CSP that forbids inline scripts, so even a missed spot could not run one."""
    job_id = insert_job(tag, uploader=tag, file_name=XSS_NAME, status="failed", last_error=XSS_ERROR)
    job = client.get(PREFIX + "/api/jobs", params={"uploader": tag}, headers=viewer).json()["jobs"][0]
    assert (job["id"], job["file_name"], job["last_error"]) == (job_id, XSS_NAME, XSS_ERROR)
    page = client.get(PREFIX + "/", headers=viewer)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client.get(PREFIX + "/static/page.js", headers=viewer).text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_results_download_stays_inside_the_results_folder(client, viewer, tag, scraping_dirs, tmp_path):
    _, results = scraping_dirs
    inside = results / "job000001_lista_results.xlsx"
    inside.write_bytes(b"PK results")
    secret = tmp_path / "secret.xlsx"
    secret.write_bytes(b"PK not yours")
    (results / "link.xlsx").symlink_to(secret)
    good = insert_job(tag, uploader=tag, results_file=str(inside))
    escapes = [insert_job(tag, uploader=tag, results_file=path)
               for path in (str(secret), str(results / ".." / "secret.xlsx"), str(results / "link.xlsx"), "/etc/passwd")]
    missing = insert_job(tag, uploader=tag, results_file=str(results / "gone.xlsx"))
    none = insert_job(tag, uploader=tag)

    ok = client.get(f"{PREFIX}/api/jobs/{good}/results", headers=viewer)
    assert ok.status_code == 200 and ok.content == b"PK results"
    assert 'filename="job000001_lista_results.xlsx"' in ok.headers["content-disposition"]
    for job_id in [*escapes, missing, none]:
        resp = client.get(f"{PREFIX}/api/jobs/{job_id}/results", headers=viewer)
        assert resp.status_code == 404, job_id
        assert b"not yours" not in resp.content


@pytest.fixture
def editor_cookie(client):
    client.cookies.set("_token", token_for("ed", "user"))
    yield PAGE_HEADER
    client.cookies.clear()


def _uploads(scraping_dirs) -> list:
    return sorted(p.name for p in scraping_dirs[0].iterdir())


def test_uploads_are_checked_before_anything_is_stored(client, editor_cookie, scraping_dirs, tmp_path):
    good = make_workbook(tmp_path / "ok.xlsx", [[n] for n in random_numbers(2)], header=["phone"]).read_bytes()
    old_xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600
    strict = raw_xlsx(tmp_path / "strict.xlsx", [["phone"], ["3001234567"]], strict=True).read_bytes()
    refusals = [
        (("estricto.xlsx", strict), 422, "estricto.xlsx: saved as Strict Open XML Spreadsheet"),
        (("lista.xls", old_xls), 422, "not an .xlsx file"),
        (("lista.csv", b"phone\n3001234567\n"), 422, "not an .xlsx file"),
        (("renamed.xlsx", b"phone\n3001234567\n"), 422, "not an Excel file"),
        (("old.xlsx", old_xls), 422, "old .xls"),
        (("broken.xlsx", good[: len(good) // 2]), 422, "corrupt"),
        (("empty.xlsx", b""), 422, "empty"),
        (("..", good), 422, "no file name"),
    ]
    for (name, content), status, reason in refusals:
        resp = client.post(PREFIX + "/api/uploads", files={"file": (name, content)}, headers=editor_cookie)
        assert resp.status_code == status, (name, resp.text)
        assert reason in resp.json()["detail"], (name, resp.json())
    assert _uploads(scraping_dirs) == []


@pytest.mark.parametrize("address", ["ana lopez@example.com", "ana@example.com, jefe@example.com",
                                     "<img src=x onerror=alert(1)>@x.co", "a" * 250 + "@x.co"])
def test_a_bad_notify_address_is_refused_naming_the_field_and_nothing_is_stored(client, editor_cookie, scraping_dirs,
                                                                              tmp_path, address):
    good = make_workbook(tmp_path / "ok.xlsx", [[n] for n in random_numbers(2)], header=["phone"]).read_bytes()
    resp = client.post(PREFIX + "/api/uploads", files={"file": ("ok.xlsx", good)}, data={"notify_email": address},
                       headers=editor_cookie)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith("notify_email: ") and ("not one email address" in detail or "longer than 254" in detail)
    assert _uploads(scraping_dirs) == []


def test_a_zip_bomb_upload_is_refused_before_it_is_parsed(client, editor_cookie, scraping_dirs, tmp_path):
    """~260 KB that unpacks to 256 MB (make bench-pages times a 1 GB one; no timing here)."""
    bomb = raw_xlsx(tmp_path / "bomba.xlsx", [["phone"], ["3001234567"]], sheet_xml_padding=256 << 20)
    resp = client.post(PREFIX + "/api/uploads", files={"file": ("bomba.xlsx", bomb.read_bytes())},
                       headers=editor_cookie)
    assert resp.status_code == 422 and "unpacks to 256 MB" in resp.json()["detail"]
    assert _uploads(scraping_dirs) == []


def test_uploads_over_the_cap_are_refused_unread(client, editor_cookie, scraping_dirs):
    from callcentre.scraping_page.intake import MAX_UPLOAD_BYTES

    too_big = io.BytesIO(b"PK" + b"\0" * (MAX_UPLOAD_BYTES + 128 * 1024))
    resp = client.post(PREFIX + "/api/uploads", files={"file": ("huge.xlsx", too_big)}, headers=editor_cookie)
    assert resp.status_code == 413 and "MB" in resp.json()["detail"]
    assert _uploads(scraping_dirs) == []


def test_uploads_without_a_declared_length_or_file_are_refused(client, editor_cookie, scraping_dirs):
    def chunks():  # streamed: no Content-Length, so the cap could not be checked before reading
        yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n\r\nPK\r\n--x--\r\n"

    streamed = client.post(PREFIX + "/api/uploads", content=chunks(),
                           headers={**editor_cookie, "Content-Type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 411
    no_file = client.post(PREFIX + "/api/uploads", data={"note": "x"}, files={"other": ("a.txt", b"x")},
                          headers=editor_cookie)
    assert no_file.status_code == 422 and "form field 'file'" in no_file.json()["detail"]
    assert _uploads(scraping_dirs) == []


def _expected_dashboard(rows: list[tuple], zone, first, last) -> dict:
    """The dashboard's figures computed here, in Python, from the job table's rows of the range."""
    import math
    from collections import Counter, defaultdict

    days = {first + timedelta(days=n): Counter() for n in range((last - first).days + 1)}
    numbers, people = Counter(), defaultdict(Counter)
    seconds = []
    for status, uploader, created, completed, processed in rows:
        day = created.astimezone(zone).date()
        days[day][status] += 1
        numbers[day] += processed
        people[uploader][status] += 1
        if status == "completed" and completed:
            seconds.append((completed - created).total_seconds())
    seconds.sort()
    p95 = None
    if seconds:  # percentile_cont: linear between the two closest ranks
        rank = 0.95 * (len(seconds) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        p95 = seconds[low] + (seconds[high] - seconds[low]) * (rank - low)
    return {
        "days": {d.isoformat(): (sum(c.values()), {s: n for s, n in c.items() if n}, numbers[d]) for d, c in days.items()},
        "uploaders": {u: (c["completed"], c["failed"], c["timeout"], sum(c.values())) for u, c in people.items()},
        "completed": len(seconds),
        "average_s": round(sum(seconds) / len(seconds), 1) if seconds else None,
        "p95_s": round(p95, 1) if p95 is not None else None,
    }


def test_dashboard_figures_equal_the_job_table(client, viewer, tag):
    """Jobs per day by status (days in the person's zone), numbers per day, per uploader, and upload
    to completion, over a range only this test writes into (2001), against the table's own rows."""
    from zoneinfo import ZoneInfo

    from callcentre.common.pg import transaction

    zone = ZoneInfo("America/Bogota")
    day = datetime(2001, 3, 10, 9, tzinfo=zone)
    a, b = f"{tag}ana", f"{tag}<b>beto</b>"
    specs = [  # (uploader, status, created, minutes to completion, numbers looked up)
        (a, "completed", day, 20, 300), (a, "completed", day + timedelta(hours=2), 50, 120),
        (a, "failed", day + timedelta(hours=3), None, 40), (b, "timeout", day + timedelta(days=1), None, 0),
        (b, "completed", day + timedelta(days=1, hours=14, minutes=30), 7, 80),  # 23:30 Bogota: 04:30 UTC next day
        (b, "processing", day + timedelta(days=2), None, 15), (a, "completed", day + timedelta(days=2), 95, 1000),
    ]
    for uploader, status, created, minutes, numbers in specs:
        insert_job(tag, uploader=uploader, status=status, created_at=created, processed_numbers=numbers,
                   total_numbers=max(numbers, 1000),
                   completed_at=created + timedelta(minutes=minutes) if minutes is not None else None)
    first, last = day.date() - timedelta(days=1), day.date() + timedelta(days=3)
    params = {"from_day": str(first), "to_day": str(last), "tz": "America/Bogota"}
    got = client.get(PREFIX + "/api/dashboard", params=params, headers=viewer)
    assert got.status_code == 200, got.text
    got = got.json()

    with transaction("scraping_postgres") as cur:
        cur.execute("""SELECT status, uploader, created_at, completed_at, processed_numbers FROM scraping.jobs
                       WHERE created_at >= %s AND created_at < %s""",
                    (datetime(first.year, first.month, first.day, tzinfo=zone),
                     datetime(last.year, last.month, last.day, tzinfo=zone) + timedelta(days=1)))
        rows = cur.fetchall()
    expected = _expected_dashboard(rows, zone, first, last)
    assert {d["day"]: (d["total"], {s: n for s, n in d["jobs"].items() if n}, d["numbers"]) for d in got["days"]} \
        == expected["days"]
    assert {u["uploader"]: (u["completed"], u["failed"], u["timeout"], u["total"]) for u in got["uploaders"]} \
        == expected["uploaders"]
    assert (got["completion"]["completed"], got["completion"]["average_s"], got["completion"]["p95_s"]) == (
        expected["completed"], expected["average_s"], expected["p95_s"])
    # What the person sees, by hand: the 23:30 job is on its Bogota day, not on the UTC one.
    eleventh = next(d for d in got["days"] if d["day"] == "2001-03-11")
    assert eleventh["jobs"]["completed"] == 1 and eleventh["jobs"]["timeout"] == 1 and eleventh["numbers"] == 80
    assert got["timezone"] == "America/Bogota" and len(got["days"]) == 5
    assert next(u for u in got["uploaders"] if u["uploader"] == b)["uploader"] == b  # user text back verbatim


@pytest.mark.parametrize("params,fragment", [
    ({"from_day": "2026-11-10", "to_day": "2026-11-01"}, "is after to_day"),
    ({"from_day": "2020-01-01", "to_day": "2026-11-01"}, "more than 366 days"),
    ({"tz": "Nowhere/Land"}, "not a time zone name"),
    ({"tz": "x" * 61}, "tz"),
    ({"from_day": "not-a-day"}, "from_day"),
])
def test_bad_dashboard_ranges_are_refused_by_name(client, viewer, params, fragment):
    resp = client.get(PREFIX + "/api/dashboard", params=params, headers=viewer)
    assert resp.status_code == 422 and fragment in resp.text, resp.text


def test_the_list_speaks_the_persons_language(client, viewer, tag):
    insert_job(tag, uploader=tag, status="failed", last_error="batch 1: could not process batch (HTTP 503)")
    es = client.get(PREFIX + "/api/jobs", params={"uploader": tag, "lang": "es"}, headers=viewer).json()
    assert es["jobs"][0]["status_text"] == "Fallido" and "no respondió bien" in es["jobs"][0]["problem"]
    assert es["status_words"]["completed"] == "Terminado"
    en = client.get(PREFIX + "/api/jobs", params={"uploader": tag}, headers=viewer).json()
    assert en["jobs"][0]["status_text"] == "Failed"
    assert client.get(PREFIX + "/api/jobs", params={"lang": "fr"}, headers=viewer).status_code == 422
    shared = client.get(PREFIX + "/static/airflow_prefs.js", headers=viewer)
    assert shared.status_code == 200 and "i18nextLng" in shared.text
    assert client.get(PREFIX + "/static/airflow_prefs.js").status_code == 401
