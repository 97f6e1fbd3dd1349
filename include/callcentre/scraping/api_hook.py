"""The client contract of the external phone-lookup API, in one hook (adapt this class, nothing else).

Connection ``scraping_api`` and its extras, endpoints and errors: docs/scraping.md. Neither numbers
nor the token are ever logged.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from callcentre.common.compat import AirflowFailException, BaseHook
from callcentre.common.connections import SCRAPING_API, http_base_url

log = logging.getLogger(__name__)

LOOKUP_STATES = ("queued", "processing", "done", "failed")


class ScrapingApiUnavailable(RuntimeError):
    """Transient: the API is down, slow or throttling. The task is retried with backoff."""


class ScrapingApiRejected(AirflowFailException):
    """Permanent: the API refused the request (bad token, bad payload). Retrying cannot help."""


@dataclasses.dataclass(frozen=True)
class Lookup:
    lookup_id: str
    status: str
    results: list[dict] | None = None
    error: str | None = None


class ScrapingApiHook(BaseHook):
    """Submit batches of phone numbers to the lookup API and fetch their results."""

    def __init__(self) -> None:
        super().__init__()
        self._session = None
        self._base_url: str | None = None
        self._extras: dict[str, Any] = {}

    # What callers want --------------------------------------------------------------------------
    def submit_lookup(self, reference: str, numbers: list[str]) -> str:
        """Submit one batch; return its ``lookup_id``. Safe to call again with the same reference."""
        body = self._request("POST", "/v1/lookups", json={"reference": reference, "numbers": numbers})
        lookup_id = body.get("lookup_id") if isinstance(body, dict) else None
        if not lookup_id:
            raise ScrapingApiUnavailable(f"POST /v1/lookups for {reference}: answer without lookup_id")
        log.info("lookup %s submitted for %s (%d numbers)", lookup_id, reference, len(numbers))
        return str(lookup_id)

    def get_lookup(self, lookup_id: str) -> Lookup:
        body = self._request("GET", f"/v1/lookups/{lookup_id}")
        status = body.get("status") if isinstance(body, dict) else None
        if status not in LOOKUP_STATES:
            raise ScrapingApiUnavailable(f"GET lookup {lookup_id}: unexpected status {status!r}")
        results = body.get("results")
        if status == "done" and not isinstance(results, list):
            raise ScrapingApiUnavailable(f"GET lookup {lookup_id}: done without a results list")
        return Lookup(lookup_id, status, results, body.get("error"))

    # How ------------------------------------------------------------------------------------------
    def get_conn(self):
        if self._session is None:
            import requests

            conn = self.get_connection(SCRAPING_API)
            self._extras = conn.extra_dejson or {}
            self._base_url = http_base_url(conn, "https")
            if self._base_url is None:
                raise AirflowFailException(f"connection {SCRAPING_API!r} has no host")
            session = requests.Session()
            session.headers["Accept"] = "application/json"
            if conn.password:
                session.headers["Authorization"] = f"Bearer {conn.password}"
            self._session = session
        return self._session

    def _request(self, method: str, path: str, json: dict | None = None):
        import requests

        session = self.get_conn()
        timeout = float(self._extras.get("timeout", 30))
        max_wait = float(self._extras.get("max_retry_after", 120))
        throttle_attempts = int(self._extras.get("throttle_attempts", 3))
        what = f"{method} {path.split('/v1/')[-1]}"
        for attempt in range(throttle_attempts + 1):
            try:
                resp = session.request(method, self._base_url + path, json=json, timeout=timeout)
            except requests.RequestException as err:
                raise ScrapingApiUnavailable(f"{what}: {type(err).__name__}") from err
            if resp.status_code == 429 and attempt < throttle_attempts:
                wait = _retry_after_seconds(resp.headers.get("Retry-After"))
                if wait > max_wait:
                    raise ScrapingApiUnavailable(f"{what}: throttled for {wait:.0f}s (more than {max_wait:.0f}s)")
                log.warning("%s: 429 throttled, waiting %.1fs as Retry-After asks", what, wait)
                time.sleep(wait)
                continue
            break
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise ScrapingApiUnavailable(f"{what}: HTTP {resp.status_code} {_error_of(resp)}")
        if resp.status_code >= 400:
            raise ScrapingApiRejected(f"{what}: HTTP {resp.status_code} {_error_of(resp)} (not retried)")
        try:
            return resp.json()
        except ValueError as err:
            raise ScrapingApiUnavailable(f"{what}: HTTP {resp.status_code} with a non-JSON body") from err


def _retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` is either seconds or an HTTP date; 5 s when it says neither."""
    if not value:
        return 5.0
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return 5.0


def _error_of(resp) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    message = body.get("error") if isinstance(body, dict) else None
    return f"({str(message)[:200]})" if message else ""
