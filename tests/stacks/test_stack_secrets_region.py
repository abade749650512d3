"""Each region's ExternalSecrets read secrets in the region of the SecretStore that serves
them, so the DR deployment gets its Secret from us-west-2's replicas with us-east-1 gone."""

from __future__ import annotations

import pytest

from stacks.regions import GraphIndex

SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.fixture(params=["staging", "production"])
def graph(request, staging, production) -> GraphIndex:
    return {"staging": staging, "production": production}[request.param]


def test_every_remote_secret_is_read_in_its_stores_region(graph):
    checked = 0
    for es in graph.of_type(EXTERNAL_SECRET):
        cluster_region = graph.effective_region(es)
        namespace = es.inputs["metadata"]["namespace"]
        stores = {
            s.inputs["metadata"]["name"]: s.inputs["spec"]["provider"]["aws"]["region"]
            for s in graph.of_type(SECRET_STORE)
            if graph.effective_region(s) == cluster_region
            and s.inputs["metadata"]["namespace"] == namespace
        }
        default = es.inputs["spec"]["secretStoreRef"]["name"]
        for entry in es.inputs["spec"]["data"]:
            key = entry["remoteRef"]["key"]
            if not key.startswith("arn:aws:secretsmanager:"):
                continue
            store = entry.get("sourceRef", {}).get("storeRef", {}).get("name", default)
            assert key.split(":")[3] == stores[store], (es.name, entry["secretKey"])
            checked += 1
    assert checked


def test_dr_service_reads_only_us_west_2(graph):
    dr = [
        es
        for es in graph.of_type(EXTERNAL_SECRET)
        if graph.effective_region(es) == "us-west-2" and es.inputs["metadata"]["namespace"] == "utp"
    ]
    assert dr
    for es in dr:
        for entry in es.inputs["spec"]["data"]:
            assert ":us-east-1:" not in entry["remoteRef"]["key"], entry["secretKey"]
