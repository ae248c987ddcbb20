"""Clusters API 2.1 routes (``list``, ``get``, ``list-node-types``, ``spark-versions``) and the
identity routes (``/.well-known/databricks-config``, ``GET /api/2.0/preview/scim/v2/Me``).

Shapes: ``compute.ClusterDetails``, ``compute.ListClustersResponse``,
``compute.ListNodeTypesResponse``, ``compute.GetSparkVersionsResponse``, ``iam.User``;
the discovery document follows ``databricks.sdk.oauth.HostMetadata``.
"""

from __future__ import annotations

from databricks.sdk.service import compute, iam
from starlette.requests import Request
from starlette.routing import Route

from sandbox import seed
from sandbox.errors import InvalidParameterValue
from sandbox.handler_io import ok, q_int, q_str, token_of


async def well_known(request: Request):
    """``GET /.well-known/databricks-config``: host metadata so SDK start-up does not warn."""
    return ok({"oidc_endpoint": f"{request.app.state.store.host}/oidc", "workspace_id": seed.WORKSPACE_ID,
               "cloud": "aws"})


async def me(request: Request):
    """``GET /api/2.0/preview/scim/v2/Me`` -> ``iam.User`` of ``sandbox-user@example.com``."""
    token_of(request)
    return ok(iam.User.from_dict(seed.current_user()).as_dict())


async def list_clusters(request: Request):
    """``GET /api/2.1/clusters/list`` -> ``{"clusters": [ClusterDetails]}`` (``page_size``/``page_token``)."""
    page_size = q_int(request, "page_size", 100) or 100
    offset = int(q_str(request, "page_token") or 0)
    with request.app.state.store.transaction(token_of(request)) as ws:
        items = sorted(ws["clusters"].values(), key=lambda c: c["cluster_name"])
    page = items[offset: offset + page_size]
    out: dict = {"clusters": [compute.ClusterDetails.from_dict(c).as_dict() for c in page]}
    if offset + page_size < len(items):
        out["next_page_token"] = str(offset + page_size)
    return ok(out)


async def get_cluster(request: Request):
    """``GET /api/2.1/clusters/get?cluster_id=`` -> ``compute.ClusterDetails``.

    Unknown id: 400 ``INVALID_PARAMETER_VALUE`` "Cluster <id> does not exist", like the service.
    """
    cid = q_str(request, "cluster_id")
    with request.app.state.store.transaction(token_of(request)) as ws:
        cl = ws["clusters"].get(cid or "")
    if cl is None:
        raise InvalidParameterValue(f"Cluster {cid} does not exist")
    return ok(compute.ClusterDetails.from_dict(cl).as_dict())


async def list_node_types(request: Request):
    """``GET /api/2.1/clusters/list-node-types`` -> ``{"node_types": [NodeType]}``."""
    token_of(request)
    return ok(compute.ListNodeTypesResponse.from_dict({"node_types": seed.node_types()}).as_dict())


async def spark_versions(request: Request):
    """``GET /api/2.1/clusters/spark-versions`` -> ``{"versions": [SparkVersion]}``."""
    token_of(request)
    return ok(compute.GetSparkVersionsResponse.from_dict({"versions": seed.spark_versions()}).as_dict())


ROUTES = [
    Route("/.well-known/databricks-config", well_known, methods=["GET"]),
    Route("/api/2.0/preview/scim/v2/Me", me, methods=["GET"]),
    Route("/api/2.1/clusters/list", list_clusters, methods=["GET"]),
    Route("/api/2.1/clusters/get", get_cluster, methods=["GET"]),
    Route("/api/2.1/clusters/list-node-types", list_node_types, methods=["GET"]),
    Route("/api/2.1/clusters/spark-versions", spark_versions, methods=["GET"]),
]
