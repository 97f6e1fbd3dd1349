#!/usr/bin/env python3
"""deploy/settings.toml, rendered for the deployments that take files (standard library only, so
it runs with any Python 3.11 on a server, before any virtualenv exists).

  python3 deploy/settings.py systemd-env SITE.env [--part common|control]   an EnvironmentFile
  python3 deploy/settings.py pools-json                                     deploy/pools.json's content
  python3 deploy/settings.py k8s-connections SITE.env | kubectl apply -f -  the Helm values' secret
  python3 deploy/settings.py local-env SITE.env                             the local harness's exports

SITE.env holds the site settings (NAME=value lines, the names of .env.example). ``common`` goes to
every component; ``control`` holds what only the api-server, scheduler, DAG processor, triggerer
and init step get (the JWT secret): the Celery workers' units read ``common`` only.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tomllib
from pathlib import Path
from urllib.parse import quote

SETTINGS = tomllib.loads((Path(__file__).resolve().parent / "settings.toml").read_text())
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker", "init")
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
SECRET_SUFFIXES = ("_PASSWORD", "_SECRET", "_SECRET_KEY", "_FERNET_KEY", "_TOKEN")


class MissingSiteSetting(KeyError):
    """A site setting absent, or a secret left empty: rendering stops, nothing half-configured starts."""

    def __str__(self) -> str:
        return f"site setting {self.args[0]} is not set (see .env.example)"


def read_site(path: str | Path) -> dict[str, str]:
    """NAME=value lines; # comments and blank lines skipped; no shell expansion, no quotes removed."""
    site = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{number}: expected NAME=value, got {line!r}")
        name, value = line.split("=", 1)
        site[name.strip()] = value
    return site


def fill(template: str, site: dict[str, str]) -> str:
    """``template`` with each ${NAME} replaced by the site's value; users and passwords inside a URL
    are URL-encoded, so any character is safe in them."""
    in_url = "://" in template

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in site or (name.endswith(SECRET_SUFFIXES) and not site[name]):
            raise MissingSiteSetting(name)
        text = site[name]
        return quote(text, safe="") if in_url and name.endswith(("_PASSWORD", "_USER")) else text

    return PLACEHOLDER.sub(value, template)


def with_defaults(site: dict[str, str]) -> dict[str, str]:
    """``site`` over the defaults of the project's own env settings."""
    return {**SETTINGS["env"], **site}


def connection(conn_id: str, site: dict[str, str]) -> dict:
    """The connection as Airflow's JSON form (what AIRFLOW_CONN_<ID> holds)."""
    spec = SETTINGS["connections"][conn_id]
    conn = {}
    for key, template in spec.items():
        if isinstance(template, str):
            text = fill(template, site)
            conn[key] = int(text) if key == "port" else text
        elif isinstance(template, dict):  # extra: its text values may name site settings too
            conn[key] = {k: fill(v, site) if isinstance(v, str) else v for k, v in template.items()}
        else:
            conn[key] = template
    return conn


def _render(site: dict[str, str], airflow: dict, site_keys, conn_ids) -> dict[str, str]:
    """Airflow's config ``airflow`` and the site-set options ``site_keys``, the project's env
    settings and the connections ``conn_ids``, as environment variables."""
    env = {config_env(key): fill(template, site) for key, template in airflow.items()}
    env.update({config_env(key): fill(SETTINGS["site_airflow"][key]["value"], site) for key in site_keys})
    env.update({name: site[name] for name in SETTINGS["env"]})
    env.update({f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection(conn_id, site)) for conn_id in conn_ids})
    return env


def airflow_env(site: dict[str, str], component: str) -> dict[str, str]:
    """Every environment variable ``component`` gets."""
    site = with_defaults(site)
    site_keys = [key for key, spec in SETTINGS["site_airflow"].items() if component in spec.get("components", COMPONENTS)]
    env = _render(site, SETTINGS["airflow"], site_keys, SETTINGS["connections"])
    for name, spec in SETTINGS["variables"].items():
        if spec["required"]:
            env[f"AIRFLOW_VAR_{name.upper()}"] = fill(spec["value"], site)
    return env


def config_env(key: str) -> str:
    section, option = key.split(".", 1)
    return f"AIRFLOW__{section.upper()}__{option.upper()}"


def pools_json() -> str:
    """The body `airflow pools import` takes."""
    return json.dumps({name: {"slots": p["slots"], "description": p["description"], "include_deferred": False}
                       for name, p in SETTINGS["pools"].items()}, indent=2) + "\n"


def environment_file(env: dict[str, str]) -> str:
    """systemd EnvironmentFile lines: values double-quoted, with \\ and " escaped (systemd's rules)."""
    lines = ["# Rendered by deploy/settings.py from deploy/settings.toml and the site file; do not edit."]
    for name, value in env.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


def systemd_env(site: dict[str, str], part: str) -> dict[str, str]:
    """``common``: what every unit gets (the worker's env); ``control``: the rest for the others."""
    worker = airflow_env(site, "worker")
    if part == "common":
        return {**SETTINGS["systemd"], **worker}
    return {k: v for k, v in airflow_env(site, "scheduler").items() if k not in worker}


def k8s_connections(site: dict[str, str]) -> str:
    """A Kubernetes Secret (JSON manifest, which kubectl reads) with one key per connection id."""
    data = {conn_id: json.dumps(connection(conn_id, with_defaults(site))) for conn_id in SETTINGS["connections"]}
    manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "callcentre-connections"}, "stringData": data}
    return json.dumps(manifest, indent=2) + "\n"


def local_env(site: dict[str, str]) -> dict[str, str]:
    """The local harness's environment: [airflow] with [local.airflow] over it, the site-set options
    [local] names, the project's env settings and its connections but [local]'s absent ones."""
    local = SETTINGS["local"]
    return _render(with_defaults(site), {**SETTINGS["airflow"], **local["airflow"]}, local["site_airflow"],
                   [c for c in SETTINGS["connections"] if c not in local["absent_connections"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    systemd = sub.add_parser("systemd-env", help="an EnvironmentFile for the systemd units")
    systemd.add_argument("site", help="site settings file (NAME=value lines, names of .env.example)")
    systemd.add_argument("--part", choices=("common", "control"), default="common")
    sub.add_parser("pools-json", help="the pools, as `airflow pools import` reads them")
    k8s = sub.add_parser("k8s-connections", help="the Kubernetes Secret of the connections (Helm values)")
    k8s.add_argument("site", help="site settings file")
    local = sub.add_parser("local-env", help="export lines for .local/airflow.env (scripts/local_settings.sh)")
    local.add_argument("site", help="site settings file")
    args = parser.parse_args(argv)
    try:
        if args.command == "systemd-env":
            sys.stdout.write(environment_file(systemd_env(read_site(args.site), args.part)))
        elif args.command == "local-env":
            sys.stdout.write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in local_env(read_site(args.site)).items()))
        elif args.command == "k8s-connections":
            sys.stdout.write(k8s_connections(read_site(args.site)))
        else:
            sys.stdout.write(pools_json())
    except (MissingSiteSetting, ValueError) as err:
        print(f"settings: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
