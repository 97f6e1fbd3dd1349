"""Helpers of the jobs page tests: job rows written straight into ``scraping.jobs`` and JWTs from
Airflow's own auth manager (the real one the api-server uses, no stand-in)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

XSS_NAME = "<img src=x onerror=alert(1)>.xlsx"
XSS_ERROR = "</td><script>alert('e')</script><b>bold</b> & \"quotes\""


def insert_job(tag: str, conn_id: str = "scraping_postgres", **fields) -> int:
    """Insert one job row (``airflow_run_id`` starts with ``tag``, so a test can delete its rows)."""
    from callcentre.common.pg import transaction

    row = {
        "file_name": "clientes.xlsx", "upload_path": "/nowhere/clientes.xlsx", "content_sha256": uuid.uuid4().hex * 2,
        "uploader": "ana", "airflow_run_id": f"{tag}{uuid.uuid4().hex[:12]}", "status": "completed",
        "created_at": datetime.now(timezone.utc), **fields,
    }
    names = ", ".join(row)
    with transaction(conn_id) as cur:
        cur.execute(f"INSERT INTO scraping.jobs ({names}) VALUES ({', '.join(['%s'] * len(row))}) RETURNING id",
                    list(row.values()))
        return cur.fetchone()[0]


def delete_jobs(tag: str, conn_id: str = "scraping_postgres") -> None:
    from callcentre.common.pg import transaction

    with transaction(conn_id) as cur:
        cur.execute("DELETE FROM scraping.jobs WHERE airflow_run_id LIKE %s", (tag.replace("_", r"\_") + "%",))


def token_for(username: str, role: str) -> str:
    """A JWT for ``username`` with a SimpleAuthManager ``role`` (viewer, user, op, admin)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


def new_tag() -> str:
    return f"pg{uuid.uuid4().hex[:8]}__"
