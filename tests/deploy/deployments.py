"""What each deployment option defines, read from its own files, and what the DAG code uses, read
from the code: the two sides tests/deploy/test_settings.py compares, each against
deploy/settings.toml."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import settings  # noqa: E402  (deploy/settings.py: standard library only, not a package)

CODE_DIRS = (ROOT / "dags", ROOT / "include" / "callcentre")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}; "$$" is a literal dollar.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def settings_queues() -> list[str]:
    """The Celery queues of deploy/settings.toml, by their default names."""
    return [settings.fill(name, settings.SETTINGS["env"]) for name in settings.SETTINGS["queues"]]


@dataclass
class Deployment:
    """What one deployment option gives each component."""

    name: str
    env: dict[str, dict[str, str]]  # component -> environment
    queues: set[str]  # queues some worker consumes
    pools: set[str]
    connections: dict[str, dict] = field(default_factory=dict)  # id -> JSON form, when the file holds it
    # False: the option gives every component the same environment (the chart does), so a secret
    # cannot be kept from the workers there.
    per_component: bool = True


# --- the code ------------------------------------------------------------------------------------
def _modules():
    for folder in CODE_DIRS:
        for path in sorted(folder.rglob("*.py")):
            if "fakes" not in path.parts:  # the stand-ins are not the product
                yield path, ast.parse(path.read_text(), str(path))


def _constants() -> dict[str, str]:
    """Module-level ``NAME = "text"`` of every module (the code's ids are such constants)."""
    found = {}
    for _, tree in _modules():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = node.value.value
    return found


def _text(node, constants: dict[str, str]) -> str | None:
    """A string argument: a literal, a constant's name, or an f-string as its template."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values)
    return None


def code_connection_ids() -> set[str]:
    """The connection-id constants of callcentre.common.connections (the contract), and every id the
    code passes or defaults to a ``*conn_id`` parameter or to a connection lookup."""
    constants = _constants()
    ids = set()
    contract = ast.parse((ROOT / "include/callcentre/common/connections.py").read_text())
    for node in contract.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            if all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                ids.add(node.value.value)
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults + node.args.kw_defaults
                for arg, default in zip(args, defaults):
                    if arg.arg.endswith("conn_id") and default is not None:
                        ids.add(_text(default, constants))
            elif isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg and kw.arg.endswith("conn_id"):
                        ids.add(_text(kw.value, constants))
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name == "get_connection" and node.args:
                    ids.add(_text(node.args[0], constants))
    return {i for i in ids if i}


def code_variables() -> set[str]:
    """Every Variable key the code reads or keeps (``get_variable``, ``read_variable``,
    ``set_variable``…, ``Variable.get``): literals, constants, and f-string templates such as
    ``scraping_{kind}_dir``."""
    constants = _constants()
    keys = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = getattr(func, "attr", getattr(func, "id", ""))
            on_variable = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "Variable"
            if name.endswith("_variable") or (on_variable and name in ("get", "set", "delete")):
                keys.add(_text(node.args[0], constants))
    return {k for k in keys if k}


def code_pools_and_queues() -> tuple[set[str], set[str]]:
    """Pools and queues of every task of the DAGs as Airflow loads them (with IVR_LOAD_QUEUE unset:
    its default)."""
    script = (
        "import json, os; os.environ.pop('IVR_LOAD_QUEUE', None)\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag({str(ROOT / 'dags')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "tasks = [t for d in bag.dags.values() for t in d.tasks]\n"
        "print(json.dumps([sorted({t.pool for t in tasks}), sorted({t.queue for t in tasks})]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True)
    pools, queues = json.loads(out.stdout.strip().splitlines()[-1])
    return set(pools) - {"default_pool"}, set(queues)


# --- the deployments -----------------------------------------------------------------------------
def compose_site() -> dict[str, str]:
    """.env.example with every secret filled: a .env as an operator writes it."""
    site = settings.read_site(ROOT / ".env.example")
    return {k: (v or f"test-{k.lower()}") for k, v in site.items()}


def interpolate(text: str, site: dict[str, str]) -> str:
    """``text`` as Compose renders it with ``site`` as .env; a missing ``:?`` variable raises."""
    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = site.get(name)
        if op == ":?" and not value:
            raise KeyError(f"{name}: {arg}")
        if value is None or (op == ":-" and value == ""):
            return arg or ""
        return value

    return INTERPOLATION.sub(one, text).replace("$$", "$")


def compose(path: Path = ROOT / "docker-compose.yaml", site: dict[str, str] | None = None) -> Deployment:
    site = compose_site() if site is None else site
    doc = yaml.safe_load(path.read_text())
    services = doc["services"]
    components = {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                  "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                  "airflow-worker": "worker", "airflow-init": "init"}
    env = {component: {k: interpolate(str(v), site) for k, v in services[name].get("environment", {}).items()}
           for name, component in components.items()}
    worker_command = shlex.split(interpolate(services["airflow-worker"]["command"], site))
    queues = set(worker_command[worker_command.index("--queues") + 1].split(","))
    init_script = services["airflow-init"]["command"][-1]
    pools = set()
    if "pools import /opt/airflow/deploy/pools.json" in init_script:
        mounted = [v.split(":")[0] for v in services["airflow-init"]["volumes"] if v.endswith("/opt/airflow/deploy/pools.json:ro")]
        if mounted:
            pools = set(json.loads((ROOT / mounted[0]).read_text()))
    connections = {k[len("AIRFLOW_CONN_"):].lower(): json.loads(v) for k, v in env["scheduler"].items()
                   if k.startswith("AIRFLOW_CONN_")}
    return Deployment("docker compose", env, queues, pools, connections)


def systemd_units(folder: Path = ROOT / "deploy" / "systemd") -> dict[str, dict[str, list[str]]]:
    """{unit file: {key: [values]}} of the [Service] sections (keys may repeat)."""
    units = {}
    for path in sorted(folder.glob("*.service")):
        keys: dict[str, list[str]] = {}
        section = None
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                keys.setdefault(key, []).append(value)
        units[path.name] = keys
    return units


SYSTEMD_COMPONENTS = {"airflow-api-server.service": "api-server", "airflow-scheduler.service": "scheduler",
                      "airflow-dag-processor.service": "dag-processor", "airflow-triggerer.service": "triggerer",
                      "airflow-worker@.service": "worker", "airflow-init.service": "init"}
SYSTEMD_FILES = {"/etc/callcentre/airflow.env": "common", "/etc/callcentre/airflow-control.env": "control"}


def systemd(site: dict[str, str] | None = None) -> Deployment:
    """Each unit's environment: the EnvironmentFiles it names, rendered from the settings."""
    site = compose_site() if site is None else site
    units = systemd_units()
    env, queues, pools = {}, set(), set()
    for unit, component in SYSTEMD_COMPONENTS.items():
        keys = units[unit]
        merged = {}
        for name in keys.get("EnvironmentFile", []):
            merged.update(settings.systemd_env(site, SYSTEMD_FILES[name.lstrip("-")]))
        env[component] = merged
        for command in keys["ExecStart"]:
            words = shlex.split(command.replace("${IVR_LOAD_QUEUE}", merged.get("IVR_LOAD_QUEUE", "")))
            if "--queues" in words:
                queues |= set(words[words.index("--queues") + 1].split(","))
            if "pools" in words and "import" in words:
                pools |= set(json.loads((ROOT / "deploy" / Path(words[-1]).name).read_text()))
    connections = {k[len("AIRFLOW_CONN_"):].lower(): json.loads(v) for k, v in env["scheduler"].items()
                   if k.startswith("AIRFLOW_CONN_")}
    return Deployment("systemd", env, queues, pools, connections)


def helm_values(path: Path = ROOT / "deploy" / "helm" / "values.yaml") -> dict:
    return yaml.safe_load(path.read_text())


def helm(values: dict | None = None) -> Deployment:
    """What the chart gives every component from these values (config, env, secrets)."""
    values = helm_values() if values is None else values
    env = {f"AIRFLOW__{section.upper()}__{key.upper()}": str(value)
           for section, options in values.get("config", {}).items() for key, value in options.items()}
    env.update({e["name"]: e["value"] for e in values.get("env", [])})
    env.update({s["envName"]: f"<secret {s['secretName']}/{s.get('secretKey', '')}>" for s in values.get("secret", [])})
    # The chart's own secrets and services (pinned names; the chart maps them onto these settings).
    pinned = {"AIRFLOW__CORE__FERNET_KEY": values.get("fernetKeySecretName"),
              "AIRFLOW__API_AUTH__JWT_SECRET": values.get("jwtSecretName"),
              "AIRFLOW__API__SECRET_KEY": values.get("apiSecretKeySecretName"),
              "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": values.get("data", {}).get("metadataSecretName"),
              "AIRFLOW__CELERY__RESULT_BACKEND": values.get("data", {}).get("resultBackendSecretName"),
              "AIRFLOW__CELERY__BROKER_URL": values.get("data", {}).get("brokerUrlSecretName"),
              "AIRFLOW__CORE__EXECUTOR": values.get("executor")}
    env.update({k: f"<{v}>" for k, v in pinned.items() if v})
    if values.get("statsd", {}).get("enabled"):  # the chart sets statsd_on/host/port to its StatsD
        env.update({"AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "<chart statsd>",
                    "AIRFLOW__METRICS__STATSD_PORT": "9125"})
    celery = values.get("workers", {}).get("celery", {})
    queues = set()
    if celery.get("enableDefault", True):
        queues |= set(str(celery.get("queue", "default")).split(","))
    for worker_set in celery.get("sets", []):
        queues |= set(str(worker_set.get("queue", "default")).split(","))
    pools = set()
    args = " ".join(values.get("migrateDatabaseJob", {}).get("args") or [])
    if "pools import /opt/airflow/deploy/pools.json" in args:
        pools = set(json.loads((ROOT / "deploy" / "pools.json").read_text()))
    return Deployment("helm", {c: env for c in settings.COMPONENTS}, queues, pools, per_component=False)


def local_env(env_file: Path = ROOT / ".local" / "airflow.env") -> dict[str, str]:
    """The environment `. .local/airflow.env` gives (written by scripts/local_settings.sh)."""
    out = subprocess.run(["bash", "-c", f'. "{env_file}" && env -0'], capture_output=True, check=True, timeout=30)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


def local(env_file: Path = ROOT / ".local" / "airflow.env") -> Deployment:
    """`make airflow` (LocalExecutor: every queue runs) and `make airflow EXECUTOR=celery`."""
    env = local_env(env_file)
    celery_script = (ROOT / "scripts" / "airflow_celery.sh").read_text()
    queues = set(re.search(r'--queues "\$\{CELERY_QUEUES:-(.*?)\}"', celery_script).group(1)
                 .replace("${IVR_LOAD_QUEUE:-ivr}", env.get("IVR_LOAD_QUEUE", "ivr")).split(","))
    init = (ROOT / "scripts" / "airflow_init.sh").read_text()
    pools = set(json.loads((ROOT / "deploy" / "pools.json").read_text())) if "deploy/pools.json" in init else set()
    connections = {k[len("AIRFLOW_CONN_"):].lower(): json.loads(v) for k, v in env.items() if k.startswith("AIRFLOW_CONN_")}
    return Deployment("local", {c: env for c in settings.COMPONENTS}, queues, pools, connections, per_component=False)
