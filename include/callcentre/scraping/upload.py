"""Storing an upload and triggering its run through Airflow's REST API (what the web app does).

The run id is derived from the file's content (``upload__<sha256[:16]>``), so Airflow answers a
second trigger of the same file ``409 Conflict`` (reported as "already triggered"), and the job
table's unique content hash backs that up for runs triggered any other way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

from callcentre.common import compat, storage
from callcentre.common.connections import http_base_url

DAG_ID = "scraping_upload"
# Connection (type http) of the Airflow REST API for the automatic retry: host = the api-server's
# base URL (or host/port/schema), login/password = a user allowed to clear and edit scraping runs.
AIRFLOW_API_CONN = "airflow_api"
# A stored name is "<sha16>__<name>": with 200 bytes of name it stays under the 255-byte limit of
# common file systems (a name of accented or non-Latin letters takes 2-4 bytes a character).
MAX_NAME_BYTES = 200


class TriggerError(RuntimeError):
    """Airflow refused or could not be reached; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class StoredUpload:
    relative_path: str  # what goes into conf.file
    path: Path
    sha256: str

    @property
    def run_id(self) -> str:
        return run_id_for(self.sha256)


@dataclasses.dataclass(frozen=True)
class TriggerResult:
    created: bool  # False: this file had already been triggered
    run_id: str
    state: str
    conf: dict


def run_id_for(sha256: str) -> str:
    return f"upload__{sha256[:16]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_upload(source: str | Path, uploads_dir: str | Path) -> StoredUpload:
    """Copy ``source`` into the uploads folder as ``<sha256[:16]>__<original name>`` (idempotent)."""
    source = Path(source)
    sha = file_sha256(source)
    relative = f"{sha[:16]}__{shorten_name(safe_file_name(source.name))}"
    root = storage.as_storage(uploads_dir)
    if storage.local_path(root) is None:  # object storage: one PUT, atomic for readers
        target = storage.child(root, relative, "uploads")
        if not target.exists():
            storage.put_file(source, target)
        return StoredUpload(relative, target, sha)
    target = storage.local_path(root) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return StoredUpload(relative, target, sha)


def safe_file_name(name: str) -> str:
    """``name`` with every character but letters, digits and ``._- `` replaced by ``_``."""
    return "".join(c if c.isalnum() or c in "._- " else "_" for c in name)


def shorten_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to at most ``max_bytes`` UTF-8 bytes, its extension kept (``.xlsx`` is checked)."""
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode()) > 15:
        stem, extension = name, ""
    suffix = dot + extension if extension else ""
    return stem.encode()[: max_bytes - len(suffix.encode())].decode(errors="ignore").rstrip() + suffix


class AirflowRestClient:
    """The REST calls of uploads and job actions, as ``username``/``password`` (a JWT fetched on first
    use; basic auth on 2.x) or a ready ``token`` (a page's caller: Airflow checks their rights)."""

    api = compat.REST_API_PREFIX  # /api/v2 (3.x) or /api/v1 (2.x)
    timeout = 30

    def __init__(self, base_url: str, username: str | None = None, password: str | None = None, *,
                 token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = token

    def _headers(self) -> dict:
        import requests

        if self._token is None and compat.REST_API_BASIC_AUTH:
            import base64

            pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {pair}", "Content-Type": "application/json"}
        if self._token is None:
            try:
                resp = requests.post(
                    self.base_url + "/auth/token",
                    json={"username": self.username, "password": self.password},
                    timeout=self.timeout,
                )
            except requests.RequestException as err:
                raise TriggerError(f"Airflow API at {self.base_url} is unreachable: {type(err).__name__}") from err
            if resp.status_code not in (200, 201):
                raise TriggerError(f"Airflow refused the login of {self.username!r}: HTTP {resp.status_code}")
            self._token = resp.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None):
        import requests

        try:
            return requests.request(
                method, self.base_url + path, headers=self._headers(), data=json.dumps(body) if body else None,
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise TriggerError(f"{method} {path}: Airflow API unreachable ({type(err).__name__})") from err

    def trigger_upload(self, upload: StoredUpload, uploader: str, overrides: dict | None = None) -> TriggerResult:
        """A 409 means this file was already triggered."""
        conf = {"file": upload.relative_path, "uploader": uploader, **(overrides or {})}
        body = {"dag_run_id": upload.run_id, "conf": conf}
        if not compat.IS_AIRFLOW_2:  # 3.x requires the key; null = a run of no data interval
            body["logical_date"] = None
        resp = self.request("POST", f"{self.api}/dags/{DAG_ID}/dagRuns", body)
        if resp.status_code in (200, 201):
            run = resp.json()
            return TriggerResult(True, run["dag_run_id"], run.get("state", "queued"), run.get("conf") or conf)
        if resp.status_code == 409:
            existing = self.request("GET", f"{self.api}/dags/{DAG_ID}/dagRuns/{upload.run_id}")
            if existing.status_code == 200:
                run = existing.json()
                return TriggerResult(False, run["dag_run_id"], run.get("state", "?"), run.get("conf") or {})
        raise TriggerError(f"trigger of {DAG_ID} refused: HTTP {resp.status_code} {resp.text[:300]}")

    def delete_run(self, run_id: str) -> int:
        return self.request("DELETE", f"{self.api}/dags/{DAG_ID}/dagRuns/{run_id}").status_code

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state, or None when Airflow has no such run."""
        resp = self.request("GET", f"{self.api}/dags/{dag_id}/dagRuns/{quote(run_id)}")
        if resp.status_code == 404:
            return None
        _expect(resp, "read run", run_id)
        return resp.json().get("state")

    def unfinished_task_instances(self, dag_id: str, run_id: str) -> list[tuple[str, int]]:
        """``(task_id, map_index)`` of the run's tasks that did not succeed (failed, upstream_failed,
        skipped: stopping a run skips the tasks that had not started)."""
        found, offset = [], 0
        states = "&".join(f"state={s}" for s in ("failed", "upstream_failed", "skipped"))
        while True:
            resp = self.request(
                "GET", f"{self.api}/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances?{states}&limit=100&offset={offset}"
            )
            _expect(resp, "list the tasks of run", run_id)
            page = resp.json()["task_instances"]
            found += [(ti["task_id"], int(ti.get("map_index", -1))) for ti in page]
            offset += len(page)
            if not page or offset >= resp.json().get("total_entries", 0):
                return found

    def clear_unfinished_tasks(self, dag_id: str, run_id: str) -> int:
        """Re-run what did not succeed in the run (and what follows it); how many task instances were
        cleared. 2.x's /api/v1 takes task ids only: every map index of such a task is cleared
        (an answered batch is asked again)."""
        tasks = self.unfinished_task_instances(dag_id, run_id)
        if compat.IS_AIRFLOW_2:
            task_ids = sorted({tid for tid, _ in tasks}) or None
        else:
            task_ids = [tid if index < 0 else [tid, index] for tid, index in tasks] or None
        resp = self.request("POST", f"{self.api}/dags/{dag_id}/clearTaskInstances", {
            "dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True,
            "include_downstream": True, "task_ids": task_ids,
        })
        _expect(resp, "clear run", run_id)
        cleared = resp.json()
        return int(cleared.get("total_entries", len(cleared.get("task_instances", []))))

    def stop_run(self, dag_id: str, run_id: str) -> str | None:
        """Mark a queued/running run failed (Airflow stops its tasks); the state it ends in, None: no run."""
        state = self.run_state(dag_id, run_id)
        if state in (None, "success", "failed"):
            return state
        resp = self.request("PATCH", f"{self.api}/dags/{dag_id}/dagRuns/{quote(run_id)}", {"state": "failed"})
        _expect(resp, "stop run", run_id)
        return resp.json().get("state", "failed")


def _expect(resp, what: str, run_id: str) -> None:
    if resp.status_code not in (200, 201):
        raise TriggerError(f"Airflow refused to {what} {run_id}: HTTP {resp.status_code} {resp.text[:200]}")


def _api_connection():
    """Connection ``airflow_api``, or None where it is not defined (the local harness)."""
    try:
        return compat.BaseHook.get_connection(AIRFLOW_API_CONN)
    except compat.AirflowNotFoundException:
        return None


def caller_client(request) -> AirflowRestClient:
    """Airflow's REST API as the caller of a page's route (with the caller's token), at connection
    airflow_api's internal URL where defined (a container may not reach the public [api] base_url)."""
    from callcentre.common.ui_page import api_base_url, caller_token

    conn = _api_connection()
    internal_url = http_base_url(conn, "http") if conn is not None else None
    return AirflowRestClient(internal_url or api_base_url(), token=caller_token(request))


def airflow_client(api_url: str | None = None) -> AirflowRestClient:
    """The REST client of scripts and the automatic retry, in this order: connection ``airflow_api``;
    else env ``AIRFLOW_API_USERNAME``/``AIRFLOW_API_PASSWORD``; else (local use) SimpleAuthManager's
    admin password. The URL: ``api_url``, the connection's, else ``[api] base_url``."""
    conn = _api_connection()
    if conn is not None and conn.login:
        return AirflowRestClient(api_url or http_base_url(conn, "http"), conn.login, conn.password or "")
    if not api_url:
        api_url = compat.airflow_conf().get("api", "base_url", fallback="http://127.0.0.1:8080")
    if os.environ.get("AIRFLOW_API_USERNAME"):
        user, password = os.environ["AIRFLOW_API_USERNAME"], os.environ.get("AIRFLOW_API_PASSWORD", "")
    else:
        user, password = local_credentials(os.environ.get("AIRFLOW_HOME", "."))
    return AirflowRestClient(api_url, user, password)


def local_credentials(airflow_home: str | Path) -> tuple[str, str]:
    """Development fallback: the password ``airflow standalone`` generated for ``admin`` (or the
    SimpleAuthManager's configured passwords file, ``[core] simple_auth_manager_passwords_file``)."""
    path = Path(airflow_home) / compat.STANDALONE_PASSWORD_FILE
    if not compat.IS_AIRFLOW_2:
        path = Path(compat.airflow_conf().get("core", "simple_auth_manager_passwords_file", fallback=None) or path)
    try:
        text = path.read_text()
        # 2.x writes the admin's password alone; 3.x's SimpleAuthManager a JSON of user: password.
        passwords = {"admin": text.strip()} if compat.IS_AIRFLOW_2 else json.loads(text)
    except (OSError, ValueError) as err:
        raise TriggerError(
            f"no Airflow API credentials: set AIRFLOW_API_USERNAME/AIRFLOW_API_PASSWORD ({path} not readable)"
        ) from err
    if "admin" not in passwords:
        raise TriggerError(f"user 'admin' not in {path}")
    return "admin", passwords["admin"]
