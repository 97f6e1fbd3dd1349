"""A stand-in for a mail server: a real SMTP server on loopback that records every message.

Enough of RFC 5321 for Python's ``smtplib`` (what Airflow's SmtpHook uses): EHLO/HELO, MAIL,
RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT; no TLS, no AUTH (the connection sets
``disable_tls``/``disable_ssl`` and no login). Stop it like the HTTP stand-ins: ``shutdown()``.
"""

from __future__ import annotations

import socketserver
import threading
from email import message_from_string, policy


class FakeSmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.messages: list[dict] = []
        self._lock = threading.Lock()

    def record(self, mail_from: str, rcpt_to: list[str], data: str) -> None:
        parsed = message_from_string(data, policy=policy.default)
        body = parsed.get_body(("plain", "html"))
        with self._lock:
            self.messages.append({"from": mail_from, "to": rcpt_to, "subject": str(parsed["subject"] or ""),
                                  "body": body.get_content() if body else "", "raw": data})

    @property
    def connection(self) -> dict:
        """An Airflow ``smtp`` connection pointing here (as JSON for ``AIRFLOW_CONN_...``)."""
        host, port = self.server_address[:2]
        return {"conn_type": "smtp", "host": host, "port": port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "scraping@callcentre.local",
                          "retry_limit": 0, "timeout": 10}}


class _Handler(socketserver.StreamRequestHandler):
    server: FakeSmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 callcentre-fake-smtp ready")
        mail_from, rcpt_to = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self.reply("250-callcentre-fake-smtp")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 callcentre-fake-smtp")
            elif verb == "MAIL":
                mail_from, rcpt_to = line.split(":", 1)[1].strip().strip("<>").split(">")[0], []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt_to.append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    data = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
                    if data == ".":
                        break
                    lines.append(data[1:] if data.startswith("..") else data)
                self.server.record(mail_from, rcpt_to, "\n".join(lines) + "\n")
                self.reply("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                mail_from, rcpt_to = (mail_from, rcpt_to) if verb == "NOOP" else ("", [])
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 command not implemented")
