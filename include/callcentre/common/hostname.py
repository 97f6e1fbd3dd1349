"""The host name a worker reports to Airflow (``[core] hostname_callable``).

Airflow records it on every task instance (``ti.hostname``: the UI, `airflow tasks states-for-dag-run`)
and asks the worker's log server there for logs it cannot read itself. On real servers the
machine's name is right, and this returns it. Two Celery workers on one machine (`make airflow
EXECUTOR=celery`, the Celery end-to-end test) set ``CALLCENTRE_WORKER_HOSTNAME`` to tell them apart.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("CALLCENTRE_WORKER_HOSTNAME") or socket.getfqdn()
