"""The host name a worker reports to Airflow (``[core] hostname_callable``): the machine's, unless
``CALLCENTRE_WORKER_HOSTNAME`` tells two Celery workers on one machine apart (Airflow fetches a
task's log from the worker's log server by this name)."""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("CALLCENTRE_WORKER_HOSTNAME") or socket.getfqdn()
