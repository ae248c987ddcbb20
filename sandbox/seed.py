"""What a fresh sandbox workspace contains: the current user, node types, runtimes, clusters,
SQL warehouses and a small workspace tree of notebooks and files.

Seeded identity (``GET /api/2.0/preview/scim/v2/Me``): ``sandbox-user@example.com`` (id
``4218712345678901``, groups ``users`` and ``admins``). Another user's home,
``/Users/other-user@example.com``, exists but answers ``PERMISSION_DENIED``.

Seeded workspace tree (workspace API paths; the ``/Workspace`` prefix is accepted on input and
stripped, as the service does, so ``/Workspace/Shared/x`` and ``/Shared/x`` are the same object):

- ``/Users/sandbox-user@example.com/etl/ingest_orders``      NOTEBOOK, PYTHON
- ``/Users/sandbox-user@example.com/etl/transform_orders``   NOTEBOOK, PYTHON
- ``/Users/sandbox-user@example.com/reports/daily_revenue``  NOTEBOOK, SQL
- ``/Users/sandbox-user@example.com/scratch.py``             FILE
- ``/Shared/job-agent/notebooks/ingest``                     NOTEBOOK, PYTHON
- ``/Shared/job-agent/notebooks/transform``                  NOTEBOOK, PYTHON
- ``/Shared/job-agent/notebooks/publish``                    NOTEBOOK, PYTHON
- ``/Shared/job-agent/scripts/cleanup.py``                   FILE
- ``/Shared/job-agent/sql/cost_per_job.sql``                 FILE
- ``/Shared/job-agent/files/src/{sample_notebook,hello}``      NOTEBOOK, PYTHON (a synced bundle tree)
- ``/Shared/job-agent/files/src/main.py``, ``files/argv.py``   FILE
- ``/Shared/job-agent/files/dist/default_python-0.0.1-py3-none-any.whl``  FILE

Node types (``GET /api/2.1/clusters/list-node-types``, AWS-style, ``memory_mb`` / ``num_cores``):
m5d.large 8192/2, m5d.xlarge 16384/4, m5d.2xlarge 32768/8, m5d.4xlarge 65536/16,
i3.xlarge 31232/4, i3.2xlarge 62464/8, i3.4xlarge 124928/16,
r5d.large 16384/2, r5d.xlarge 32768/4, r5d.2xlarge 65536/8, r5d.4xlarge 131072/16.

Runtimes (``GET /api/2.1/clusters/spark-versions``): 16.4.x-scala2.12, 16.4.x-photon-scala2.12,
15.4.x-scala2.12, 15.4.x-photon-scala2.12, 15.4.x-cpu-ml-scala2.12, 14.3.x-scala2.12,
13.3.x-scala2.12.

Clusters (``/api/2.1/clusters/list``): ``0101-120000-shared01`` "shared-autoscaling" RUNNING
(15.4.x-scala2.12, i3.xlarge, autoscale 2-8), ``0101-120000-analyt02`` "analytics-small"
TERMINATED (14.3.x-scala2.12, m5d.large, 1 worker), ``0101-120000-mlr5d03`` "ml-r5d" RUNNING
(16.4.x-scala2.12, r5d.2xlarge, 4 workers).

SQL warehouses (``/api/2.0/sql/warehouses``): ``a1b2c3d4e5f60001`` "Serverless Starter Warehouse"
RUNNING (serverless, 2X-Small), ``a1b2c3d4e5f60002`` "reporting-pro" STOPPED (PRO, Small).
"""

from __future__ import annotations

import base64

USER_NAME = "sandbox-user@example.com"
USER_ID = "4218712345678901"
OTHER_USER_NAME = "other-user@example.com"
WORKSPACE_ID = "1234567890123456"


def current_user() -> dict:
    """The SCIM ``User`` of ``GET /api/2.0/preview/scim/v2/Me`` (shape: ``iam.User.as_dict()``)."""
    return {
        "id": USER_ID,
        "userName": USER_NAME,
        "displayName": "Sandbox User",
        "active": True,
        "name": {"givenName": "Sandbox", "familyName": "User"},
        "emails": [{"value": USER_NAME, "type": "work", "primary": True}],
        "groups": [
            {"display": "users", "value": "1000000000000001", "$ref": "Groups/1000000000000001"},
            {"display": "admins", "value": "1000000000000002", "$ref": "Groups/1000000000000002"},
        ],
        "entitlements": [{"value": "workspace-access"}, {"value": "allow-cluster-create"}],
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:workspace:2.0:User",
        ],
    }


# node_type_id, memory_mb, num_cores, category, DBU per hour (used by the synthetic billing tables)
_NODE_TYPES = [
    ("m5d.large", 8192, 2, "General Purpose", 0.34),
    ("m5d.xlarge", 16384, 4, "General Purpose", 0.69),
    ("m5d.2xlarge", 32768, 8, "General Purpose", 1.37),
    ("m5d.4xlarge", 65536, 16, "General Purpose", 2.74),
    ("i3.xlarge", 31232, 4, "Storage Optimized", 1.0),
    ("i3.2xlarge", 62464, 8, "Storage Optimized", 2.0),
    ("i3.4xlarge", 124928, 16, "Storage Optimized", 4.0),
    ("r5d.large", 16384, 2, "Memory Optimized", 0.45),
    ("r5d.xlarge", 32768, 4, "Memory Optimized", 0.9),
    ("r5d.2xlarge", 65536, 8, "Memory Optimized", 1.8),
    ("r5d.4xlarge", 131072, 16, "Memory Optimized", 3.6),
]


def node_types() -> list[dict]:
    """The node-type catalogue (shape: ``compute.NodeType.as_dict()``; AWS instance sizes)."""
    out = []
    for order, (node_type_id, memory_mb, cores, category, _dbu) in enumerate(_NODE_TYPES):
        out.append(
            {
                "node_type_id": node_type_id,
                "instance_type_id": node_type_id,
                "memory_mb": memory_mb,
                "num_cores": float(cores),
                "num_gpus": 0,
                "category": category,
                "description": node_type_id,
                "display_order": order,
                "is_deprecated": False,
                "is_hidden": False,
                "is_io_cache_enabled": node_type_id.startswith(("i3", "r5d", "m5d")),
                "photon_driver_capable": True,
                "photon_worker_capable": True,
                "support_cluster_tags": True,
                "support_ebs_volumes": True,
                "support_port_forwarding": True,
                "node_instance_type": {
                    "instance_type_id": node_type_id,
                    "local_disks": 1,
                    "local_disk_size_gb": 150 if ".large" in node_type_id else 300,
                },
            }
        )
    return out


def node_memory_mb(node_type_id: str | None) -> int | None:
    """Memory in MB of a catalogue node type, or None when unknown."""
    for nid, memory_mb, *_ in _NODE_TYPES:
        if nid == node_type_id:
            return memory_mb
    return None


def node_dbu_per_hour(node_type_id: str | None) -> float:
    """DBUs per hour one node of this type consumes (synthetic, for the billing tables); 1.0 if unknown."""
    for nid, _mem, _cores, _cat, dbu in _NODE_TYPES:
        if nid == node_type_id:
            return dbu
    return 1.0


_SPARK_VERSIONS = [
    ("16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("16.4.x-photon-scala2.12", "16.4 LTS Photon (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-photon-scala2.12", "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-cpu-ml-scala2.12", "15.4 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("14.3.x-scala2.12", "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("13.3.x-scala2.12", "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"),
]


def spark_versions() -> list[dict]:
    """Runtime versions (shape: ``compute.SparkVersion.as_dict()``: ``key``, ``name``)."""
    return [{"key": key, "name": name} for key, name in _SPARK_VERSIONS]


def spark_version_keys() -> set[str]:
    """The set of valid ``spark_version`` keys."""
    return {key for key, _ in _SPARK_VERSIONS}


def clusters(start_ms: int) -> dict[str, dict]:
    """Seeded all-purpose clusters by id (shape: ``compute.ClusterDetails.as_dict()``)."""

    def cluster(cid, name, version, node, state, workers=None, autoscale=None):
        mem = node_memory_mb(node) or 0
        n = (autoscale or {}).get("min_workers", workers or 0)
        d = {
            "cluster_id": cid,
            "cluster_name": name,
            "spark_version": version,
            "node_type_id": node,
            "driver_node_type_id": node,
            "state": state,
            "state_message": "" if state == "RUNNING" else "Inactive cluster terminated (inactive for 120 minutes).",
            "creator_user_name": USER_NAME,
            "single_user_name": None,
            "cluster_source": "UI",
            "data_security_mode": "USER_ISOLATION",
            "runtime_engine": "STANDARD",
            "autotermination_minutes": 120,
            "enable_elastic_disk": True,
            "start_time": start_ms - 7 * 86_400_000,
            "last_state_loss_time": 0,
            "spark_conf": {},
            "custom_tags": {"team": "data-eng"},
            "default_tags": {"Vendor": "Databricks", "Creator": USER_NAME, "ClusterName": name, "ClusterId": cid},
            "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "zone_id": "us-west-2a", "first_on_demand": 1},
            "spark_context_id": 7_000_000_000_000_000_000 + int(cid[-2:]),
            "cluster_memory_mb": mem * (n + 1) if state == "RUNNING" else 0,
            "cluster_cores": 0.0,
        }
        if state == "TERMINATED":
            d["terminated_time"] = start_ms - 86_400_000
            d["termination_reason"] = {"code": "INACTIVITY", "type": "SUCCESS", "parameters": {"inactivity_duration_min": "120"}}
        if autoscale:
            d["autoscale"] = autoscale
        else:
            d["num_workers"] = workers
        return {k: v for k, v in d.items() if v is not None}

    out = [
        cluster("0101-120000-shared01", "shared-autoscaling", "15.4.x-scala2.12", "i3.xlarge", "RUNNING",
                autoscale={"min_workers": 2, "max_workers": 8}),
        cluster("0101-120000-analyt02", "analytics-small", "14.3.x-scala2.12", "m5d.large", "TERMINATED", workers=1),
        cluster("0101-120000-mlr5d03", "ml-r5d", "16.4.x-scala2.12", "r5d.2xlarge", "RUNNING", workers=4),
    ]
    return {c["cluster_id"]: c for c in out}


def warehouses(host: str) -> dict[str, dict]:
    """Seeded SQL warehouses by id (shape: ``sql.EndpointInfo.as_dict()`` / ``GetWarehouseResponse``)."""
    hostname = host.split("://", 1)[-1]

    def wh(wid, name, size, state, serverless, wtype):
        return {
            "id": wid,
            "name": name,
            "cluster_size": size,
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "auto_stop_mins": 10,
            "creator_name": USER_NAME,
            "state": state,
            "num_clusters": 1 if state == "RUNNING" else 0,
            "num_active_sessions": 0,
            "enable_photon": True,
            "enable_serverless_compute": serverless,
            "warehouse_type": wtype,
            "spot_instance_policy": "COST_OPTIMIZED",
            "channel": {"name": "CHANNEL_NAME_CURRENT"},
            "tags": {"custom_tags": [{"key": "team", "value": "data-eng"}]},
            "health": {"status": "HEALTHY"},
            "jdbc_url": f"jdbc:spark://{hostname}:443/default;transportMode=http;ssl=1;AuthMech=3;httpPath=/sql/1.0/warehouses/{wid};",
            "odbc_params": {"hostname": hostname, "path": f"/sql/1.0/warehouses/{wid}", "port": 443, "protocol": "https"},
        }

    out = [
        wh("a1b2c3d4e5f60001", "Serverless Starter Warehouse", "2X-Small", "RUNNING", True, "PRO"),
        wh("a1b2c3d4e5f60002", "reporting-pro", "Small", "STOPPED", False, "PRO"),
    ]
    return {w["id"]: w for w in out}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_NOTEBOOK_PY = "# Databricks notebook source\n# {title}\ndbutils.widgets.text('date', '')\nprint('{title}')\n"
_NOTEBOOK_SQL = "-- Databricks notebook source\n-- {title}\nSELECT current_date() AS today\n"


def workspace_objects(start_ms: int) -> dict[str, dict]:
    """The seeded workspace tree by canonical path (shape: ``workspace.ObjectInfo`` plus ``content``).

    Each value holds ``path``, ``object_type``, ``object_id``, ``created_at``, ``modified_at`` and,
    for notebooks/files, ``language`` and base64 ``content``.
    """
    home = f"/Users/{USER_NAME}"
    entries: list[tuple[str, str, str | None, str | None]] = [
        ("/Users", "DIRECTORY", None, None),
        ("/Shared", "DIRECTORY", None, None),
        (home, "DIRECTORY", None, None),
        (f"/Users/{OTHER_USER_NAME}", "DIRECTORY", None, None),
        (f"{home}/etl", "DIRECTORY", None, None),
        (f"{home}/etl/ingest_orders", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Ingest orders")),
        (f"{home}/etl/transform_orders", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Transform orders")),
        (f"{home}/reports", "DIRECTORY", None, None),
        (f"{home}/reports/daily_revenue", "NOTEBOOK", "SQL", _NOTEBOOK_SQL.format(title="Daily revenue")),
        (f"{home}/scratch.py", "FILE", None, "print('scratch')\n"),
        ("/Shared/job-agent", "DIRECTORY", None, None),
        ("/Shared/job-agent/notebooks", "DIRECTORY", None, None),
        ("/Shared/job-agent/notebooks/ingest", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Ingest")),
        ("/Shared/job-agent/notebooks/transform", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Transform")),
        ("/Shared/job-agent/notebooks/publish", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Publish")),
        ("/Shared/job-agent/scripts", "DIRECTORY", None, None),
        ("/Shared/job-agent/scripts/cleanup.py", "FILE", None, "import sys\nprint('cleanup', sys.argv[1:])\n"),
        ("/Shared/job-agent/sql", "DIRECTORY", None, None),
        ("/Shared/job-agent/sql/cost_per_job.sql", "FILE", None, "SELECT 1\n"),
        # What a bundle deploy would have synced under <root>/files (examples/orchestrated-jobs.md).
        ("/Shared/job-agent/files", "DIRECTORY", None, None),
        ("/Shared/job-agent/files/src", "DIRECTORY", None, None),
        ("/Shared/job-agent/files/src/sample_notebook", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Sample notebook")),
        ("/Shared/job-agent/files/src/hello", "NOTEBOOK", "PYTHON", _NOTEBOOK_PY.format(title="Hello")),
        ("/Shared/job-agent/files/src/main.py", "FILE", None, "print('hello from main.py')\n"),
        ("/Shared/job-agent/files/argv.py", "FILE", None, "import sys\nprint(sys.argv[1:])\n"),
        ("/Shared/job-agent/files/dist", "DIRECTORY", None, None),
        ("/Shared/job-agent/files/dist/default_python-0.0.1-py3-none-any.whl", "FILE", None, "PK (placeholder wheel)\n"),
    ]
    out = {}
    for i, (path, object_type, language, content) in enumerate(entries):
        obj = {
            "path": path,
            "object_type": object_type,
            "object_id": 3_000_000_000_000_000 + i,
            "created_at": start_ms - 30 * 86_400_000,
            "modified_at": start_ms - 30 * 86_400_000,
        }
        if language:
            obj["language"] = language
        if content is not None:
            obj["content"] = _b64(content)
            obj["size"] = len(content.encode())
        if object_type == "DIRECTORY":
            obj["resource_id"] = str(obj["object_id"])
        out[path] = obj
    return out
