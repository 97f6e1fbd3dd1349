"""Storing an upload and triggering its run through Airflow's REST API (what the web app does).

The run id is derived from the file's content (``upload__<sha256[:16]>``), so triggering the same
file twice is answered ``409 Conflict`` by Airflow and reported as "already triggered" instead of
creating a second run (and the job table's unique content hash backs that up for runs triggered
any other way).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

from callcentre.common import storage

DAG_ID = "scraping_upload"
TOKEN_PATH = "/auth/token"


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
    safe_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in source.name)[:120]
    relative = f"{sha[:16]}__{safe_name}"
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


class AirflowRestClient:
    """The two REST calls the upload needs, with a JWT from ``POST /auth/token``."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._token: str | None = None

    def _headers(self) -> dict:
        import requests

        if self._token is None:
            try:
                resp = requests.post(
                    self.base_url + TOKEN_PATH,
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
        """``POST /api/v2/dags/scraping_upload/dagRuns``; a 409 means this file was already triggered."""
        conf = {"file": upload.relative_path, "uploader": uploader, **(overrides or {})}
        body = {"dag_run_id": upload.run_id, "logical_date": None, "conf": conf}
        resp = self.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", body)
        if resp.status_code in (200, 201):
            run = resp.json()
            return TriggerResult(True, run["dag_run_id"], run.get("state", "queued"), run.get("conf") or conf)
        if resp.status_code == 409:
            existing = self.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{upload.run_id}")
            if existing.status_code == 200:
                run = existing.json()
                return TriggerResult(False, run["dag_run_id"], run.get("state", "?"), run.get("conf") or {})
        raise TriggerError(f"trigger of {DAG_ID} refused: HTTP {resp.status_code} {resp.text[:300]}")

    def delete_run(self, run_id: str) -> int:
        return self.request("DELETE", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").status_code


def local_credentials(airflow_home: str | Path, username: str = "admin") -> tuple[str, str]:
    """Development fallback: the password SimpleAuthManager generated for ``username``."""
    path = Path(airflow_home) / "simple_auth_manager_passwords.json.generated"
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise TriggerError(
            f"no Airflow API credentials: set AIRFLOW_API_USERNAME/AIRFLOW_API_PASSWORD ({path} not readable)"
        ) from err
    if username not in passwords:
        raise TriggerError(f"user {username!r} not in {path}")
    return username, passwords[username]
