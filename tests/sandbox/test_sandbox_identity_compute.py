"""Identity, clusters, node types and runtimes through the unmodified WorkspaceClient."""

from __future__ import annotations

import pytest
import requests
from databricks.sdk import errors
from databricks.sdk.service import compute


def test_current_user_is_seeded_sandbox_user(w):
    me = w.current_user.me()
    assert me.user_name == "sandbox-user@example.com"
    assert me.id == "4218712345678901"
    assert me.display_name == "Sandbox User"
    assert me.active is True
    assert me.emails[0].value == "sandbox-user@example.com" and me.emails[0].primary is True
    assert {g.display for g in me.groups} == {"users", "admins"}


def test_well_known_config_gives_workspace_id(w):
    assert w.config.workspace_id == "1234567890123456"


def test_request_without_token_is_unauthenticated(sb):
    resp = requests.get(f"{sb.url}/api/2.2/jobs/list", timeout=5)
    assert resp.status_code == 401
    assert resp.json()["error_code"] == "UNAUTHENTICATED"


def test_unknown_endpoint_is_typed_not_found(w):
    with pytest.raises(errors.NotFound) as e:
        w.api_client.do("GET", "/api/2.0/no-such-api")
    assert e.value.error_code == "ENDPOINT_NOT_FOUND"


def test_clusters_list_and_get_field_by_field(w):
    clusters = {c.cluster_id: c for c in w.clusters.list()}
    assert set(clusters) == {"0101-120000-shared01", "0101-120000-analyt02", "0101-120000-mlr5d03"}
    shared = w.clusters.get("0101-120000-shared01")
    assert shared.cluster_name == "shared-autoscaling"
    assert shared.state == compute.State.RUNNING
    assert shared.spark_version == "15.4.x-scala2.12"
    assert shared.node_type_id == "i3.xlarge"
    assert shared.autoscale.min_workers == 2 and shared.autoscale.max_workers == 8
    assert shared.creator_user_name == "sandbox-user@example.com"
    small = clusters["0101-120000-analyt02"]
    assert small.state == compute.State.TERMINATED
    assert small.num_workers == 1
    assert small.termination_reason.code == compute.TerminationReasonCode.INACTIVITY


def test_unknown_cluster_is_answered_like_the_service(w):
    # the service answers 400 INVALID_PARAMETER_VALUE; the SDK's error overrides make it ResourceDoesNotExist
    with pytest.raises(errors.ResourceDoesNotExist, match="Cluster 0000-000000-nope does not exist") as e:
        w.clusters.get("0000-000000-nope")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_node_type_catalogue(w):
    nts = {n.node_type_id: n for n in w.clusters.list_node_types().node_types}
    assert {"i3.xlarge", "i3.2xlarge", "r5d.4xlarge", "m5d.large"} <= set(nts)
    assert nts["i3.xlarge"].memory_mb == 31232 and nts["i3.xlarge"].num_cores == 4.0
    assert nts["r5d.4xlarge"].memory_mb == 131072 and nts["r5d.4xlarge"].num_cores == 16.0
    assert nts["m5d.large"].category == "General Purpose"
    # the SDK's own selector works on the catalogue
    assert w.clusters.select_node_type(min_memory_gb=100, local_disk=True) in {"i3.4xlarge", "r5d.4xlarge"}


def test_spark_versions(w):
    keys = [v.key for v in w.clusters.spark_versions().versions]
    assert {"16.4.x-scala2.12", "15.4.x-scala2.12", "14.3.x-scala2.12"} <= set(keys)
    assert w.clusters.select_spark_version(latest=True, long_term_support=True) == "16.4.x-scala2.12"
