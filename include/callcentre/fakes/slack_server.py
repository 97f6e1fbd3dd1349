"""A stand-in for Slack's incoming webhooks: a real HTTP server that records every message.

Run: ``python -m callcentre.fakes.slack_server --port 8099 --record messages.jsonl``.
Setting ``fail_with`` makes it answer every post with that HTTP status (a Slack outage drill).
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

from callcentre.fakes._server import JsonHandler, Recorder, base_arg_parser


class FakeSlackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, record_path: str | None = None):
        super().__init__(address, _Handler)
        self.recorder = Recorder(record_path)
        self.fail_with: int | None = None

    @property
    def messages(self) -> list[dict]:
        return self.recorder.items

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/local"


class _Handler(JsonHandler):
    server: FakeSlackServer

    def do_POST(self):  # noqa: N802 - stdlib naming
        if self.server.fail_with:
            self.send_json(self.server.fail_with, b"service_unavailable")
            return
        payload = self.read_json()
        if payload is None or not (payload.get("text") or payload.get("blocks")):
            self.send_json(400, b"invalid_payload")
            return
        self.server.recorder.add({"path": self.path, **payload})
        self.send_json(200, b"ok")


def main() -> None:
    args = base_arg_parser(__doc__.splitlines()[0]).parse_args()
    FakeSlackServer((args.host, args.port), args.record).serve_forever()


if __name__ == "__main__":
    main()
