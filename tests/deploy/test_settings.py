"""One source of settings: deploy/settings.toml against the DAG code, and every deployment option
(docker compose, systemd, Helm, the local harness) against deploy/settings.toml.

The code side is read from the code: the connection ids its modules define and pass, the Variables
it reads (AST), the pools and queues of the tasks Airflow loads. A connection, Variable, pool or
queue the code uses and a deployment lacks fails here, for that deployment, by name.
"""

from __future__ import annotations


import pytest

from tests.deploy import deployments
from tests.deploy.deployments import ROOT, settings

SETTINGS = settings.SETTINGS


@pytest.fixture(scope="module")
def code_pools_queues():
    return deployments.code_pools_and_queues()


def _all_deployments():
    return [deployments.compose(), deployments.systemd(), deployments.helm()]


def test_settings_name_every_connection_the_code_uses_and_no_other():
    used = deployments.code_connection_ids()
    assert {"ivr_mariadb", "analytics_postgres", "scraping_postgres", "slack_alerts", "scraping_api",
            "airflow_api", "scraping_smtp"} <= used  # the reader finds them (a blind reader would pass anything)
    assert used == set(SETTINGS["connections"])


def test_settings_name_every_variable_the_code_reads(code_pools_queues):
    used = deployments.code_variables()
    assert {"storage_base", "scraping_{kind}_dir", "ivr_source_statement_timeout_s"} <= used
    assert used == set(SETTINGS["variables"])


def test_settings_name_every_pool_and_queue_of_the_tasks(code_pools_queues):
    pools, queues = code_pools_queues
    assert pools == {"ivr_mariadb", "scraping_api"}
    assert pools == set(SETTINGS["pools"])
    assert queues == set(deployments.settings_queues())
    assert (ROOT / "deploy" / "pools.json").read_text() == settings.pools_json(), \
        "deploy/pools.json is stale: python3 deploy/settings.py pools-json > deploy/pools.json"


@pytest.mark.parametrize("deployment", _all_deployments(), ids=lambda d: d.name)
def test_every_deployment_has_what_the_code_uses(deployment, code_pools_queues):
    pools, queues = code_pools_queues
    site = deployments.compose_site()
    required_vars = {f"AIRFLOW_VAR_{k.upper()}" for k, v in SETTINGS["variables"].items() if v["required"]}
    for component, env in deployment.env.items():
        missing_conns = {c for c in SETTINGS["connections"] if f"AIRFLOW_CONN_{c.upper()}" not in env}
        assert not missing_conns, f"{deployment.name} {component}: no connection {sorted(missing_conns)}"
        assert not required_vars - set(env), f"{deployment.name} {component}: no Variable {required_vars - set(env)}"
        assert not set(SETTINGS["env"]) - set(env), f"{deployment.name} {component}: no {set(SETTINGS['env']) - set(env)}"
        for key, value in SETTINGS["airflow"].items():
            name = settings.config_env(key)
            assert name in env, f"{deployment.name} {component}: {name} missing"
            if "${" not in value and not env[name].startswith("<"):
                assert env[name].lower() == value.lower(), f"{deployment.name} {component}: {name}={env[name]!r}, settings say {value!r}"
        for key, spec in SETTINGS["site_airflow"].items():
            name = settings.config_env(key)
            wanted = component in spec.get("components", settings.COMPONENTS) or not deployment.per_component
            assert (name in env) == wanted, f"{deployment.name} {component}: {name} {'missing' if wanted else 'given, not used'}"
    assert queues <= deployment.queues, f"{deployment.name}: no worker consumes {queues - deployment.queues}"
    assert pools <= deployment.pools, f"{deployment.name}: pools {pools - deployment.pools} not created"
    for conn_id, conn in deployment.connections.items():  # the files that hold them: exactly the settings'
        assert conn == settings.connection(conn_id, settings.with_defaults(site)), f"{deployment.name}: {conn_id}"


def test_compose_file_values_are_the_settings():
    """Not only the names: with the same .env, compose gives each component the values the
    settings render (the systemd EnvironmentFiles are rendered from them)."""
    compose = deployments.compose()
    site = settings.with_defaults(deployments.compose_site())
    for component, env in compose.env.items():
        expected = settings.airflow_env(site, component)
        differing = {k: (env.get(k), v) for k, v in expected.items() if env.get(k) != v}
        assert not differing, f"compose {component} differs from deploy/settings.toml: {differing}"


def test_the_workers_get_no_secret_they_do_not_use():
    for deployment in (deployments.compose(), deployments.systemd()):
        worker = deployment.env["worker"]
        assert "AIRFLOW__API_AUTH__JWT_SECRET" not in worker, deployment.name
        assert not [k for k in worker if "ADMIN_PASSWORD" in k or "PASSWORDS_FILE" in k], deployment.name
        assert "AIRFLOW__API_AUTH__JWT_SECRET" in deployment.env["scheduler"]


def test_airflow_api_points_at_the_api_server_inside_the_network():
    compose = deployments.compose()
    conn = compose.connections["airflow_api"]
    assert conn["host"] == "http://airflow-apiserver:8080" and conn["login"] and conn["password"]
    assert compose.env["worker"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == conn["host"] + "/execution/"
    assert compose.env["worker"]["AIRFLOW__API__BASE_URL"] != conn["host"]


def test_the_check_catches_a_missing_connection_or_queue(tmp_path, code_pools_queues):
    """The checks have teeth: compose without airflow_api, or without the ivr queue, fails them."""
    text = (ROOT / "docker-compose.yaml").read_text()
    without_conn = tmp_path / "no-conn.yaml"
    without_conn.write_text("\n".join(l for l in text.splitlines() if "AIRFLOW_CONN_AIRFLOW_API" not in l))
    broken = deployments.compose(without_conn)
    assert "AIRFLOW_CONN_AIRFLOW_API" not in broken.env["worker"]
    with pytest.raises(AssertionError, match="no connection"):
        test_every_deployment_has_what_the_code_uses(broken, code_pools_queues)
    without_queue = tmp_path / "no-queue.yaml"
    without_queue.write_text(text.replace("--queues default,${IVR_LOAD_QUEUE:-ivr}", "--queues default"))
    with pytest.raises(AssertionError, match="no worker consumes"):
        test_every_deployment_has_what_the_code_uses(deployments.compose(without_queue), code_pools_queues)


def test_rendering_refuses_an_unset_secret():
    site = deployments.compose_site()
    site["AIRFLOW_JWT_SECRET"] = ""
    with pytest.raises(settings.MissingSiteSetting, match="AIRFLOW_JWT_SECRET"):
        settings.systemd_env(site, "control")
    site = deployments.compose_site()
    site["AIRFLOW_DB_PASSWORD"] = "p@ss/word:%"  # URL-encoded where it goes into a URL
    env = settings.airflow_env(site, "worker")
    assert "p%40ss%2Fword%3A%25@" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_local_harness_matches_the_settings(code_pools_queues):
    """.local/airflow.env (scripts/local_settings.sh, from deploy/settings.toml) and the 2.11 leg's file built on it: every connection
    but the documented fallbacks, the same types, the Variables' folders, the pools and queues."""
    pools, queues = code_pools_queues
    local = deployments.local()
    env = local.env["scheduler"]
    expected = set(SETTINGS["connections"]) - set(SETTINGS["local"]["absent_connections"])
    assert set(local.connections) == expected
    for conn_id, conn in local.connections.items():
        assert conn["conn_type"] == SETTINGS["connections"][conn_id]["conn_type"], conn_id
    assert env.get("AIRFLOW_VAR_STORAGE_BASE") or (env.get("AIRFLOW_VAR_SCRAPING_UPLOADS_DIR") and env.get("AIRFLOW_VAR_SCRAPING_RESULTS_DIR"))
    for key in ("core.default_task_retry_delay", "workers.min_heartbeat_interval", "scheduler.scheduler_idle_sleep_time",
                "core.load_examples"):
        name = settings.config_env(key)
        assert env.get(name, "").lower() == SETTINGS["airflow"][key].lower(), name
    assert env["IVR_TIMEZONE"] == env["AIRFLOW__CORE__DEFAULT_TIMEZONE"]
    assert queues <= local.queues and pools <= local.pools
    af2 = (ROOT / "scripts" / "airflow2_env.sh").read_text()
    assert ". \"$LOCAL/airflow.env\"" in af2 and "AIRFLOW_CONN_" not in af2.split("unset", 1)[-1].split("\n")[0]
