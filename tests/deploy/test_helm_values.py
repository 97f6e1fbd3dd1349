"""deploy/helm/values.yaml against the official chart's values schema, without a cluster.

The schema is vendored: helm-chart-values.schema.json is `chart/values.schema.json` of the Apache
Airflow repository (chart 1.20.0-dev, `appVersion: 3.1.7`; snapshot of the main branch at commit
dda8d2786710c72791b821f70c8b6f43c19e0b1e, 2026-03-01, read through a fork holding that commit:
Miretpl/airflow). Check the keys again against the chart version you install
(`helm show values apache-airflow/airflow`). The chart's schema lets unknown keys through in many
places, so a misspelt key is caught by a walk of our keys over the schema's properties as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.deploy import deployments
from tests.deploy.deployments import settings

SCHEMA = json.loads(Path(__file__).with_name("helm-chart-values.schema.json").read_text())
VALUES = deployments.helm_values()


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def unknown_keys(schema: dict, value, path: str = "") -> list[str]:
    """Keys of ``value`` the schema does not describe (where it lists properties)."""
    schema = _resolve(schema)
    found = []
    if isinstance(value, dict) and "properties" in schema:
        free = schema.get("additionalProperties") not in (None, False)
        for key, item in value.items():
            if key in schema["properties"]:
                found += unknown_keys(schema["properties"][key], item, f"{path}.{key}")
            elif not free:
                found.append(f"{path}.{key}")
    return found


def test_values_validate_against_the_chart_schema():
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)
    assert unknown_keys(SCHEMA, VALUES) == []
    workers = SCHEMA["properties"]["workers"]
    for worker_set in VALUES["workers"]["celery"]["sets"]:  # a set overrides keys of workers and workers.celery
        keys = set(worker_set) - {"name"}
        assert keys <= set(workers["properties"]) | set(workers["properties"]["celery"]["properties"]), keys


def test_a_misspelt_or_mistyped_key_is_caught():
    assert unknown_keys(SCHEMA, {"fernetKeySecretNam": "x"}) == [".fernetKeySecretNam"]
    assert unknown_keys(SCHEMA, {"workers": {"celery": {"qeue": "ivr"}}}) == [".workers.celery.qeue"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate({"workers": {"celery": {"replicas": "two"}}})


def test_every_secret_is_pinned_and_the_auth_manager_chosen():
    for key in ("fernetKeySecretName", "jwtSecretName", "apiSecretKeySecretName", "webserverSecretKeySecretName"):
        assert VALUES.get(key), f"{key} not pinned: the chart would generate a value on every render"
    assert all(VALUES["data"].get(k) for k in ("metadataSecretName", "resultBackendSecretName", "brokerUrlSecretName"))
    for key in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert not VALUES.get(key), f"{key}: a secret's value in the values file"
    manager = VALUES["config"]["core"]["auth_manager"]
    module, _, cls = manager.rpartition(".")
    import importlib

    assert getattr(importlib.import_module(module), cls)  # installed from requirements.txt (the image's)
    assert "simple" not in manager.lower()


def test_the_ivr_queue_has_a_worker_set():
    ivr = deployments.settings_queues()[-1]
    sets = VALUES["workers"]["celery"]["sets"]
    assert [s for s in sets if ivr in s["queue"].split(",") and "default" in s["queue"].split(",")]
    assert deployments.helm().queues >= set(deployments.settings_queues())


def test_connections_secret_is_rendered_from_the_settings():
    site = {**deployments.compose_site(), "AIRFLOW_API_INTERNAL_URL": "http://airflow-api-server:8080"}
    manifest = json.loads(settings.k8s_connections(site))
    names = {s["secretKey"] for s in VALUES["secret"] if s["secretName"] == manifest["metadata"]["name"]}
    assert names == set(manifest["stringData"]) == set(settings.SETTINGS["connections"])
    assert json.loads(manifest["stringData"]["airflow_api"])["host"] == "http://airflow-api-server:8080"
