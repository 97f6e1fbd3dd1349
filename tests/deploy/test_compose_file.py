"""docker-compose.yaml, Dockerfile and .env.example, checked without a Docker engine (CI has none).

* the compose file validates against the Compose specification's JSON schema (vendored:
  compose-spec.json, from the compose-spec/compose-spec repository, commit 170098ba);
* every variable it interpolates is documented in .env.example and vice versa, and the values it
  builds from their defaults parse (the connections' JSON);
* every path it mounts or builds from exists, every `airflow` command line it runs parses with
  Airflow's own CLI parser, every Python module it starts exists and takes the flags given;
* it refuses to start without its secrets, keeps the stand-ins behind a profile, and the image
  installs the runtime requirements the way the official image's docs prescribe.
Its settings are checked against deploy/settings.toml and the DAG code in test_settings.py.
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
    """``text`` as Compose renders it with an empty .env (every default taken; a required
    variable gives its placeholder)."""
    return INTERPOLATION.sub(lambda m: "required" if m.group(2) == ":?" else m.group(3) or "", text).replace("$$", "$")


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
    for name, svc in SERVICES.items():
        if name == "airflow-init":
            assert "restart" not in svc  # one shot; the others wait for it to complete
            continue
        assert "healthcheck" in svc and svc.get("restart") == "always", name
    for name in AIRFLOW_SERVICES:
        env = _environment(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env  # packages come with the image
        assert "/opt/airflow/logs" in " ".join(SERVICES[name]["volumes"])
        assert SERVICES[name]["user"] == ("0:0" if name == "airflow-init" else "${AIRFLOW_UID:-50000}:0")


def test_stand_ins_are_a_profile_nothing_depends_on():
    stand_ins = {"ivr-mariadb", "analytics-postgres", "fakes"}
    assert {name for name, svc in SERVICES.items() if svc.get("profiles") == ["stand-ins"]} == stand_ins
    for name, svc in SERVICES.items():
        assert not stand_ins & set(svc.get("depends_on", {})), f"{name} depends on a stand-in"


def test_secrets_are_required_and_have_no_published_default():
    text = (ROOT / "docker-compose.yaml").read_text()
    for name in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_API_SECRET_KEY",
                 "AIRFLOW_API_PASSWORD", "AIRFLOW_DB_PASSWORD", "IVR_ETL_PASSWORD", "ANALYTICS_DB_PASSWORD",
                 "SCRAPING_API_TOKEN", "SMTP_PASSWORD"):
        uses = [m for m in INTERPOLATION.finditer(text) if m.group(1) == name]
        assert uses and all(m.group(2) == ":?" for m in uses), f"{name} must be ${{{name}:?...}} everywhere"
        assert _env_example()[name] == "", f".env.example must not publish a value of {name}"
    example = (ROOT / ".env.example").read_text()
    for name in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD"):
        before = example.split(f"\n{name}=")[0].rsplit("\n\n", 1)[-1]
        assert "python3 -c" in before, f".env.example does not say how to make {name}"
    assert "local-only" not in text and "admin:admin}" not in text


def test_the_users_passwords_reach_the_api_server_only_and_are_not_interpolated():
    script = SERVICES["airflow-init"]["command"][-1]
    assert "AIRFLOW_ADMIN_PASSWORD}" not in script and "json.dumps" in script  # written by Python, from the env
    for name in AIRFLOW_SERVICES:
        env = _environment(name)
        has_file = any("secrets" in v for v in SERVICES[name]["volumes"])
        assert has_file == (name in ("airflow-apiserver", "airflow-init")), name
        assert ("AIRFLOW_ADMIN_PASSWORD" in env) == (name == "airflow-init"), name
    init = (ROOT / "scripts/compose/mariadb-init.sh").read_text()
    assert "'${IVR_ETL_PASSWORD}'" not in init and 'literal "$IVR_ETL_PASSWORD"' in init


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
