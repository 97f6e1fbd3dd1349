"""Replaying a deployment's own files on this machine, without a container engine or systemd.

docker-compose.yaml: each Airflow service's command, with the environment the file gives that
service (interpolated from a site .env as Compose does), the image's environment (the base image's
AIRFLOW_HOME and our Dockerfile's ENV lines), and only these mappings onto the local servers:
* host names and ports: the site .env points the databases, Redis and the api-server at the local
  servers (they are settings of the file), and each component's listening ports (api-server,
  scheduler health check, log servers) get free ports, as containers would each have their own;
* volume paths: /opt/airflow is a folder whose entries are links to what the service mounts
  (./dags, ./include, ./plugins, ./deploy/pools.json, named volumes as folders), and the image's
  /entrypoint runs its arguments;
* hostnames: two workers on one host get a Celery and Airflow hostname each.
systemd units: ExecStart with the unit's EnvironmentFiles (rendered from deploy/settings.toml),
the same host and path mappings (/opt/callcentre is this checkout, /etc/callcentre and
/var/lib/airflow folders of the test).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from tests.deploy.deployments import INTERPOLATION, ROOT, settings
from tests.e2e.airflow_processes import free_port

VENV_BIN = Path(sys.executable).parent
# What the official image sets (apache/airflow's Dockerfile) and our Dockerfile adds with ENV.
IMAGE_HOME = "/opt/airflow"


def local_site(schema: str, api_port: int, scraping_api: tuple[str, int, str], slack_url: str) -> dict[str, str]:
    """A site .env pointing every system at the local servers (from .local/airflow.env), the
    metadata in ``schema`` of the metadata database, secrets generated."""
    import secrets

    ivr = json.loads(os.environ["AIRFLOW_CONN_IVR_MARIADB"])
    pg = json.loads(os.environ["AIRFLOW_CONN_ANALYTICS_POSTGRES"])
    scraping_db = json.loads(os.environ["AIRFLOW_CONN_SCRAPING_POSTGRES"])
    broker = urlparse(os.environ["AIRFLOW__CELERY__BROKER_URL"])
    site = settings.read_site(ROOT / ".env.example")
    site.update({
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32), "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_PASSWORD": "ad'm\"in " + secrets.token_hex(4),  # any character: nothing interpolates it
        "AIRFLOW_API_PASSWORD": secrets.token_urlsafe(12), "SMTP_PASSWORD": secrets.token_urlsafe(12),
        "AIRFLOW_UID": str(os.getuid()),
        "AIRFLOW_DB_HOST": pg["host"], "AIRFLOW_DB_PORT": str(pg["port"]), "AIRFLOW_DB_USER": pg["login"],
        "AIRFLOW_DB_PASSWORD": pg["password"], "AIRFLOW_DB_NAME": f"airflow?options=-csearch_path%3D{schema}",
        "REDIS_HOST": broker.hostname, "REDIS_PORT": str(broker.port),
        "AIRFLOW_API_INTERNAL_URL": f"http://127.0.0.1:{api_port}",
        # What people open is not reachable from inside the containers (localhost there is the
        # container itself): nothing of the product may depend on it.
        "AIRFLOW_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "IVR_DB_HOST": ivr["host"], "IVR_DB_PORT": str(ivr["port"]), "IVR_DB_USER": ivr["login"],
        "IVR_ETL_PASSWORD": ivr["password"],
        "ANALYTICS_DB_HOST": pg["host"], "ANALYTICS_DB_PORT": str(pg["port"]), "ANALYTICS_DB_USER": pg["login"],
        "ANALYTICS_DB_PASSWORD": pg["password"], "ANALYTICS_DB_NAME": pg["schema"],
        "SCRAPING_DB_NAME": scraping_db["schema"],
        "SLACK_WEBHOOK_URL": slack_url,
        "SCRAPING_API_HOST": scraping_api[0], "SCRAPING_API_PORT": str(scraping_api[1]),
        "SCRAPING_API_TOKEN": scraping_api[2],
        "STORAGE_BASE": f"file://{IMAGE_HOME}/data",
    })
    return site


def interpolate(value, site: dict[str, str]):
    """Compose's interpolation of a value of the file (strings inside lists too)."""
    if isinstance(value, list):
        return [interpolate(v, site) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        current = site.get(name)
        if op == ":?" and not current:
            raise KeyError(f"compose refuses to start: {name}: {arg}")
        if current is None or (op == ":-" and current == ""):
            return arg or ""
        return current

    return INTERPOLATION.sub(one, value).replace("$$", "$")


def dockerfile_env() -> dict[str, str]:
    """The ENV lines of our Dockerfile's final stage (NAME=value pairs)."""
    env = {"AIRFLOW_HOME": IMAGE_HOME}
    stages = (ROOT / "Dockerfile").read_text().split("\nFROM ")
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, value = pair.split("=", 1)
                env[name] = value
    return env


class ComposeReplay:
    """The Airflow services of a compose file, ready to start one by one on this machine."""

    def __init__(self, compose_file: Path, site: dict[str, str], workdir: Path):
        self.doc = yaml.safe_load(compose_file.read_text())
        self.services = self.doc["services"]
        self.site = site
        self.workdir = workdir
        self.volumes = workdir / "volumes"
        self.entrypoint = workdir / "entrypoint"
        self.entrypoint.write_text('#!/bin/sh\nexec "$@"\n')  # the image's: runs its arguments
        self.entrypoint.chmod(0o755)

    def _home(self, service: str) -> Path:
        """/opt/airflow as ``service`` sees it: links to what it mounts (one folder per service)."""
        home = self.workdir / "opt" / service
        for volume in self.services[service].get("volumes", []):
            source, target = interpolate(volume, self.site).split(":")[:2]
            if not target.startswith(IMAGE_HOME + "/"):
                continue
            path = home / target[len(IMAGE_HOME) + 1:]
            path.parent.mkdir(parents=True, exist_ok=True)
            if source.startswith("./"):
                real = ROOT / source
            else:
                real = self.volumes / source
                real.mkdir(parents=True, exist_ok=True)
            if not path.is_symlink():
                path.symlink_to(real)
        home.mkdir(parents=True, exist_ok=True)
        return home

    def _map(self, text: str, home: Path) -> str:
        return text.replace(IMAGE_HOME, str(home)).replace("/entrypoint ", f"{self.entrypoint} ")

    def environment(self, service: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        home = self._home(service)
        env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home)}
        for name, value in {**dockerfile_env(), **self.services[service].get("environment", {})}.items():
            env[name] = self._map(str(interpolate(value, self.site)), home)
        env.update(extra or {})
        return env

    def command(self, service: str) -> list[str]:
        """The service's command as its container runs it (entrypoint + command)."""
        svc = self.services[service]
        home = self._home(service)
        command = interpolate(svc["command"], self.site)
        words = command if isinstance(command, list) else shlex.split(command)
        if "entrypoint" in svc:  # the init's /bin/bash -c script
            return [svc["entrypoint"], *[self._map(w, home) for w in words]]
        return [str(VENV_BIN / "airflow"), *words]  # the image's entrypoint runs `airflow <command>`


def health_port_env() -> dict[str, str]:
    """The ports a component listens on besides the api-server's, free ones (each container has its own)."""
    return {"AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}


def hostname() -> str:
    """What Airflow records as a component's host ($HOSTNAME in a container's health check)."""
    from airflow.utils.net import get_hostname

    return get_hostname()


def run(args: list[str], env: dict, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


# --- systemd ------------------------------------------------------------------------------------
def systemd_exec(command: str, env: dict[str, str], instance: str = "", host: str = "") -> list[str]:
    """An ExecStart line as systemd runs it: specifiers (%i, %H, %%), ${VAR} from the unit's
    environment, $$ for a literal dollar, then split into words."""
    command = command.replace("%%", "\0").replace("%i", instance).replace("%H", host).replace("\0", "%")
    command = re.sub(r"(?<!\$)\$\{([A-Za-z0-9_]+)\}", lambda m: env.get(m.group(1), ""), command)
    return shlex.split(command.replace("$$", "$"))


def systemd_paths(text: str, workdir: Path) -> str:
    """/opt/callcentre is this checkout; /etc/callcentre and /var/lib/airflow are the test's."""
    return (text.replace("/opt/callcentre/.venv/bin/", f"{VENV_BIN}/").replace("/opt/callcentre", str(ROOT))
            .replace("/etc/callcentre", str(workdir / "etc")).replace("/var/lib/airflow", str(workdir / "home")))


def read_environment_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile syntax as settings.environment_file writes it (quoted values)."""
    env = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, value = line.split("=", 1)
        if value.startswith('"') and value.endswith('"'):
            value = re.sub(r'\\(["\\])', r"\1", value[1:-1])
        env[name] = value
    return env


def cancel_open_backfills(client, dag_id: str) -> None:
    """Cancel ``dag_id``'s backfills not marked complete: Airflow refuses a new one while one is
    open, and the scheduler marks them complete only every 30 s (a stopped test's stays open)."""
    resp = client.request("GET", f"/api/v2/backfills?dag_id={dag_id}&order_by=-id&limit=100")
    if resp.status_code != 200:  # e.g. after `db clean` took the DAG's row: nothing left to settle
        return
    for backfill in resp.json().get("backfills", []):
        if not backfill.get("completed_at"):
            client.request("PUT", f"/api/v2/backfills/{backfill['id']}/cancel")  # 409: completed meanwhile


def stop_all(procs) -> None:
    """Stop the components together (SIGTERM to every group first), then each by its group."""
    import signal
    from contextlib import suppress

    from tests.e2e.airflow_processes import stop_group

    for proc in procs:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        stop_group(proc)
