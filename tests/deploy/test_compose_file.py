"""docker-compose.yaml, Dockerfile and .env.example, checked without a Docker engine (CI has none).

* the compose file validates against the Compose specification's JSON schema (vendored:
  compose-spec.json, from the compose-spec/compose-spec repository, commit 170098ba);
* every variable it interpolates is documented in .env.example and vice versa, and the values it
  builds from their defaults parse (the connections' JSON);
* every path it mounts or builds from exists, every `airflow` command line it runs parses with
  Airflow's own CLI parser, every Python module it starts exists and takes the flags given;
* it matches the Makefile's setup: the same connections (ids and types), pools, queue of the hour
  loads, and the image installs the runtime requirements under our constraints.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = [name for name, svc in SERVICES.items() if name.startswith("airflow-") and name != "airflow-postgres"]
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}; "$$" is a literal dollar.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(text: str) -> str:
    """``text`` as Compose renders it with an empty .env (every default taken)."""
    return INTERPOLATION.sub(lambda m: m.group(3) or "", text).replace("$$", "$")


def _env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {k: v for k, v in pairs}


def _environment(service: str) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in SERVICES[service].get("environment", {}).items()}


def test_validates_against_the_compose_specification():
    import jsonschema

    schema = json.loads((Path(__file__).with_name("compose-spec.json")).read_text())
    jsonschema.Draft7Validator(schema).validate(COMPOSE)


def test_a_broken_file_would_be_caught():
    """The schema check has teeth: a misspelt key is rejected."""
    import jsonschema

    schema = json.loads((Path(__file__).with_name("compose-spec.json")).read_text())
    broken = {"services": {"redis": {"image": "redis:7.2", "helthcheck": {"test": ["CMD", "true"]}}}}
    with pytest.raises(jsonschema.ValidationError, match="helthcheck"):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_every_setting_is_documented_in_env_example():
    used = set(INTERPOLATION.findall((ROOT / "docker-compose.yaml").read_text()))
    used = {name for name, _, _ in used}
    documented = set(_env_example())
    assert used - documented == set(), "interpolated but not in .env.example"
    assert documented - used == set(), "in .env.example but not used by docker-compose.yaml"


def test_split_like_the_official_file_with_health_checks_and_restarts():
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
            "airflow-worker", "airflow-init", "redis", "airflow-postgres"} <= set(SERVICES)
    assert {"ivr-mariadb", "analytics-postgres", "fakes"} <= set(SERVICES)
    for name, svc in SERVICES.items():
        if name == "airflow-init":
            assert "restart" not in svc  # one shot; the others wait for it to complete
            continue
        assert "healthcheck" in svc and svc.get("restart") == "always", name
    for name in AIRFLOW_SERVICES:
        env = _environment(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] and env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-apiserver:8080/")
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env  # packages come with the image
        assert "/opt/airflow/logs" in " ".join(SERVICES[name]["volumes"])
        assert SERVICES[name]["user"] == ("0:0" if name == "airflow-init" else "${AIRFLOW_UID:-50000}:0")


def test_mounted_and_built_paths_exist():
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: undeclared volume {source}"
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY"):
            for source in [w for w in line.split()[1:-1] if not w.startswith("--")]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".local" in ignored and ".env" in ignored


def test_the_image_is_our_airflow_with_runtime_requirements_only():
    dockerfile = (ROOT / "Dockerfile").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    version = re.search(r"^apache-airflow==(\S+)$", requirements, re.M).group(1)
    assert re.search(rf"^FROM apache/airflow:{re.escape(version)}-python3\.11$", dockerfile, re.M)
    assert "-r /opt/airflow/requirements/requirements.txt" in dockerfile
    assert "-c /opt/airflow/requirements/constraints.txt" in dockerfile
    assert "libmariadb-dev" in dockerfile and "pkg-config" in dockerfile
    assert not re.search(r"^(pytest|pyinstrument)", requirements, re.M)  # dev tools: requirements-dev.txt
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split())
    for line in requirements.splitlines():
        if "==" in line and not line.startswith("#"):
            name, pin = line.split("==")
            assert pins.get(name) == pin, f"{name} pinned differently in constraints.txt"


def _airflow_command_lines() -> list[list[str]]:
    lines = []
    for name in AIRFLOW_SERVICES:
        command = SERVICES[name]["command"]
        if name == "airflow-init":
            script = _interpolate(command[-1])
            lines += [shlex.split(line.split("/entrypoint airflow", 1)[1].split(";")[0])
                      for line in script.splitlines() if "/entrypoint airflow" in line]
        else:
            lines.append(shlex.split(_interpolate(command)))
    return lines


def test_every_airflow_command_parses():
    from airflow.cli.cli_parser import get_parser

    lines = _airflow_command_lines()
    assert ["celery", "worker", "--queues", "default,ivr"] in lines
    assert ["db", "migrate"] in lines and ["dags", "reserialize"] in lines
    parser = get_parser()
    for args in lines:
        args = [a if a != "$dag_id" else "ivr_calls_daily" for a in args]
        parsed = parser.parse_args(args)
        assert callable(parsed.func), args


def test_stand_ins_start_our_modules_with_their_flags():
    command = " ".join(SERVICES["fakes"]["command"])
    for module in re.findall(r"python -m (\S+)", command):
        assert importlib.util.find_spec(module) is not None, module
    from callcentre.fakes._server import base_arg_parser

    assert {"--host", "--port"} <= set(base_arg_parser("x")._option_string_actions)
    assert "--token" in (ROOT / "include/callcentre/fakes/scraping_api_server.py").read_text()
    init = (ROOT / "scripts/compose/mariadb-init.sh").read_text()
    assert "/callcentre/source_calls.sql" in init and "GRANT SELECT ON" in init


def test_same_connections_pools_and_queue_as_the_local_setup():
    env = _environment("airflow-scheduler")
    services_sh = (ROOT / "scripts/services.sh").read_text()
    local_conns = dict(re.findall(r'export (AIRFLOW_CONN_[A-Z_]+)=\'(\{.*\})\'', services_sh))
    compose_conns = {k: json.loads(v) for k, v in env.items() if k.startswith("AIRFLOW_CONN_")}
    assert set(compose_conns) == set(local_conns)
    for key, conn in compose_conns.items():
        local_type = re.search(r'"conn_type": "([a-z]+)"', local_conns[key]).group(1)
        assert conn["conn_type"] == local_type, key
    assert env["IVR_TIMEZONE"] == env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] and "AIRFLOW_VAR_IVR_TIMEZONE" not in env
    assert env["AIRFLOW_VAR_STORAGE_BASE"].startswith("file:///opt/airflow/data")

    init_script = SERVICES["airflow-init"]["command"][-1]
    local_init = (ROOT / "scripts/airflow_init.sh").read_text()
    assert set(re.findall(r"pools set (\w+)", init_script)) == set(re.findall(r"pools set (\w+)", local_init))

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags" / "ivr_calls_daily.py"))
    queue = bag.get_dag("ivr_calls_daily").get_task("load_hour").queue
    worker_queues = _interpolate(SERVICES["airflow-worker"]["command"]).split("--queues ")[1].split(",")
    assert queue in worker_queues and "default" in worker_queues
