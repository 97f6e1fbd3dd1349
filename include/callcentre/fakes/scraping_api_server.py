"""A reference implementation of the external phone-lookup API, the contract of
:class:`callcentre.scraping.api_hook.ScrapingApiHook` (docs/scraping.md): a real HTTP server on loopback.
``POST /v1/lookups`` is idempotent on ``reference``; every ``/v1`` call needs a bearer token (any
non-empty one unless ``--token``). Faults: :class:`Knobs`, set as docs/scraping.md says;
``drop_answers`` makes a finished lookup leave out its last N numbers.

Run: ``python -m callcentre.fakes.scraping_api_server --port 8098 --record lookups.jsonl``.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import time
import uuid
from collections import Counter
from http.server import ThreadingHTTPServer

from callcentre.fakes._server import JsonHandler, Recorder, base_arg_parser

CARRIERS = ("Claro", "Movistar", "Tigo", "WOM")
MAX_NUMBERS_PER_LOOKUP = 1000


@dataclasses.dataclass
class Knobs:
    latency: float = 0.0
    error_rate: float = 0.0
    fail_next: int = 0
    fail_method: str | None = None
    throttle_next: int = 0
    retry_after: int = 1
    never_finish: bool = False
    polls_until_done: int = 1
    fail_lookups: bool = False
    drop_answers: int = 0


def lookup_answer(number: str) -> dict:
    """The reference API's (deterministic, made-up) answer for one number."""
    digits = number.lstrip("+")
    return {
        "number": number,
        "status": "active" if int(digits[-1]) % 2 == 0 else "inactive",
        "carrier": CARRIERS[int(digits[-2:]) % len(CARRIERS)],
        "line_type": "mobile" if digits.startswith(("3", "573")) else "landline",
    }


class ScrapingApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, record_path: str | None = None, token: str | None = None, **knobs):
        super().__init__(address, _Handler)
        self.recorder = Recorder(record_path)
        self.token = token
        self.knobs = Knobs(**knobs)
        self.lookups: dict[str, dict] = {}
        self.by_reference: dict[str, str] = {}
        self.requests: list[dict] = []  # answered requests, with their status
        self.arrivals: list[dict] = []  # every request as it arrives (before latency and answer)
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def set_knobs(self, **values) -> None:
        with self.lock:
            self.knobs = dataclasses.replace(self.knobs, **values)

    def reset(self) -> None:
        with self.lock:
            self.knobs = Knobs()
            self.lookups.clear()
            self.by_reference.clear()
            self.requests.clear()
            self.arrivals.clear()

    def requests_for(self, method: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["method"] == method]

    def lookups_created_per_reference(self) -> dict[str, int]:
        with self.lock:
            return dict(Counter(lookup["reference"] for lookup in self.lookups.values()))

    def state(self) -> dict:
        with self.lock:
            return {
                "knobs": dataclasses.asdict(self.knobs),
                "lookups": [
                    {k: v for k, v in lookup.items() if k != "numbers"} | {"numbers": len(lookup["numbers"])}
                    for lookup in self.lookups.values()
                ],
                "requests": list(self.requests),
            }

    def injected_fault(self, method: str) -> tuple[int, dict] | None:
        """Decide (under the lock) whether this /v1 request gets a 500 or a 429."""
        with self.lock:
            k = self.knobs
            if k.throttle_next > 0:
                k.throttle_next -= 1
                return 429, {"Retry-After": str(k.retry_after)}
            if k.fail_next > 0 and (k.fail_method is None or k.fail_method.upper() == method):
                k.fail_next -= 1
                return 500, {}
            if k.error_rate and random.random() < k.error_rate:
                return 500, {}
        return None

    def submit(self, reference: str, numbers: list[str]) -> tuple[dict, bool]:
        with self.lock:
            existing = self.by_reference.get(reference)
            if existing:
                return self.lookups[existing], False
            lookup = {
                "lookup_id": uuid.uuid4().hex,
                "reference": reference,
                "numbers": numbers,
                "status": "queued",
                "polls": 0,
                "created_at": time.time(),
            }
            self.lookups[lookup["lookup_id"]] = lookup
            self.by_reference[reference] = lookup["lookup_id"]
            return lookup, True

    def poll(self, lookup_id: str) -> dict | None:
        with self.lock:
            lookup = self.lookups.get(lookup_id)
            if lookup is None:
                return None
            lookup["polls"] += 1
            if not self.knobs.never_finish and lookup["polls"] > self.knobs.polls_until_done:
                lookup["status"] = "failed" if self.knobs.fail_lookups else "done"
            else:
                lookup["status"] = "processing"
            body = {"lookup_id": lookup_id, "reference": lookup["reference"], "status": lookup["status"]}
            if lookup["status"] == "done":
                answered = lookup["numbers"][: max(len(lookup["numbers"]) - self.knobs.drop_answers, 0)]
                body["results"] = [lookup_answer(n) for n in answered]
            elif lookup["status"] == "failed":
                body["error"] = "upstream source unavailable for this batch"
            return body


_LOOKUP_PATH = re.compile(r"^/v1/lookups/([0-9a-f]{32})$")
_PHONE = re.compile(r"^\+?\d{7,15}$")


class _Handler(JsonHandler):
    server: ScrapingApiServer

    def do_GET(self):  # noqa: N802 - stdlib naming
        if self.path == "/admin/state":
            self.send_json(200, self.server.state())
            return
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
            return
        self._v1("GET")

    def do_POST(self):  # noqa: N802 - stdlib naming
        if self.path == "/admin/knobs":
            try:
                self.server.set_knobs(**(self.read_json() or {}))
            except TypeError as err:
                self.send_json(400, {"error": f"unknown knob: {err}"})
                return
            self.send_json(200, dataclasses.asdict(self.server.knobs))
            return
        if self.path == "/admin/reset":
            self.server.reset()
            self.send_json(200, {"status": "reset"})
            return
        self._v1("POST")

    def _v1(self, method: str) -> None:
        body = self.read_json() if method == "POST" else None
        entry = {"method": method, "path": self.path, "t": time.time()}
        if isinstance(body, dict) and isinstance(body.get("reference"), str):
            entry["reference"] = body["reference"]
        with self.server.lock:
            self.server.arrivals.append(dict(entry))
        status, payload, headers = self._answer(method, body, entry)
        entry["status"] = status
        with self.server.lock:
            self.server.requests.append(entry)
        self.server.recorder.add(entry)
        self.send_json(status, payload, headers)

    def _answer(self, method: str, body, entry: dict) -> tuple[int, dict, dict]:
        if self.server.knobs.latency:
            time.sleep(self.server.knobs.latency)
        auth = self.headers.get("Authorization") or ""
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        if not token or (self.server.token and token != self.server.token):
            return 401, {"error": "missing or invalid bearer token"}, {}
        fault = self.server.injected_fault(method)
        if fault:
            status, headers = fault
            return status, {"error": "throttled" if status == 429 else "internal error"}, headers
        if method == "POST" and self.path == "/v1/lookups":
            return self._submit(body, entry)
        match = _LOOKUP_PATH.match(self.path)
        if method == "GET" and match:
            answer = self.server.poll(match.group(1))
            return (200, answer, {}) if answer else (404, {"error": "no such lookup"}, {})
        return 404, {"error": f"no route {method} {self.path}"}, {}

    def _submit(self, body, entry: dict) -> tuple[int, dict, dict]:
        if not isinstance(body, dict) or not isinstance(body.get("reference"), str) or not body["reference"]:
            return 400, {"error": "reference (non-empty string) is required"}, {}
        numbers = body.get("numbers")
        if not isinstance(numbers, list) or not numbers or len(numbers) > MAX_NUMBERS_PER_LOOKUP:
            return 400, {"error": f"numbers must be a list of 1..{MAX_NUMBERS_PER_LOOKUP} phone numbers"}, {}
        bad = [i for i, n in enumerate(numbers) if not isinstance(n, str) or not _PHONE.match(n)]
        if bad:
            return 422, {"error": f"{len(bad)} entries are not phone numbers (first at index {bad[0]})"}, {}
        lookup, created = self.server.submit(body["reference"], numbers)
        entry["created"] = created
        entry["numbers"] = len(numbers)
        return 202, {"lookup_id": lookup["lookup_id"], "status": lookup["status"]}, {}


def main() -> None:
    parser = base_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--token", help="accept only this bearer token (default: any non-empty token)")
    parsers = {"float": float, "int": int, "str | None": str}
    for knob in dataclasses.fields(Knobs):  # one --flag per knob, e.g. --throttle-next 2
        flag = "--" + knob.name.replace("_", "-")
        if knob.type == "bool":
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=parsers[knob.type], default=knob.default)
    args = vars(parser.parse_args())
    host, port, record, token = args.pop("host"), args.pop("port"), args.pop("record"), args.pop("token")
    ScrapingApiServer((host, port), record, token=token, **args).serve_forever()


if __name__ == "__main__":
    main()
