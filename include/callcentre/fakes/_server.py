"""Shared plumbing of the local stand-in servers (Slack, scraping API): real HTTP on loopback."""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class JsonHandler(BaseHTTPRequestHandler):
    """Base handler: JSON in, JSON out, quiet logs."""

    server_version = "callcentre-fake/1"

    def log_message(self, format, *args):  # noqa: A002 - signature from the stdlib
        pass

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def send_json(self, status: int, body, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(data)


class Recorder:
    """Appends what a fake server received to a JSON-lines file (and keeps it in memory)."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self.items: list[dict] = []
        self._lock = threading.Lock()

    def add(self, item: dict) -> None:
        with self._lock:
            self.items.append(item)
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as fh:
                    fh.write(json.dumps(item) + "\n")


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Start ``server`` on a daemon thread (for tests); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def base_arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", help="append received payloads to this JSON-lines file")
    return parser
