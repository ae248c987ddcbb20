"""Choosing bigger compute for a retry after a resource failure.

`bigger_node_type` picks the next larger node type of the same family that the workspace
offers (`GET /api/2.1/clusters/list-node-types`: `node_type_id`, `memory_mb`, `num_cores`,
`is_deprecated`): `i3.xlarge` -> `i3.2xlarge`, `Standard_DS3_v2` -> `Standard_DS4_v2`,
`n2-highmem-4` -> `n2-highmem-8`. The family is the node type id without its size part (AWS:
the part before the first dot; GCP: without the last `-N`; Azure: the digits replaced).
`resized_cluster` applies one change kind to a `new_cluster` spec and says what changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

CHANGE_KINDS = ("bigger_node", "more_workers", "driver_memory", "on_demand")


def node_family(node_type_id: str) -> str:
    """The family of a node type id (see the module docstring)."""
    if "." in node_type_id:
        return node_type_id.split(".", 1)[0]
    if node_type_id.startswith("Standard_"):
        return re.sub(r"\d+", "#", node_type_id)
    if re.search(r"-\d+$", node_type_id):
        return node_type_id.rsplit("-", 1)[0]
    return node_type_id


def bigger_node_type(node_types: Iterable[Any], current: str) -> str | None:
    """The smallest node type of `current`'s family with more memory than it, or None.

    `node_types` are `compute.NodeType`s (or dicts with the same fields); deprecated ones are
    skipped."""
    def field(item: Any, name: str) -> Any:
        return item.get(name) if isinstance(item, dict) else getattr(item, name, None)

    offered = [(field(n, "node_type_id"), field(n, "memory_mb") or 0, field(n, "num_cores") or 0)
               for n in node_types if not field(n, "is_deprecated")]
    mine = next(((mem, cores) for nid, mem, cores in offered if nid == current), None)
    if mine is None:
        return None
    family = node_family(current)
    larger = sorted((mem, cores, nid) for nid, mem, cores in offered
                    if nid != current and node_family(nid) == family and mem > mine[0])
    return larger[0][2] if larger else None


def resized_cluster(cluster: dict[str, Any], kind: str, node_types: Iterable[Any]) -> tuple[dict[str, Any], list[tuple[str, Any, Any]]]:
    """`(new cluster spec, [(field, before, after)])` for one change kind, or the same spec and
    no change when nothing bigger can be had.

    Kinds: `bigger_node` (node type and driver node type to the next larger of the family;
    falls back to `more_workers`), `more_workers` (+50%, at least +1; autoscale max too),
    `driver_memory` (the driver node one size up), `on_demand` (`aws_attributes.availability`
    ON_DEMAND, Azure `azure_attributes.availability` ON_DEMAND_AZURE, GCP
    `gcp_attributes.availability` ON_DEMAND_GCP)."""
    new = dict(cluster)
    changes: list[tuple[str, Any, Any]] = []
    node = cluster.get("node_type_id")
    if kind in ("bigger_node", "driver_memory") and node:
        bigger = bigger_node_type(node_types, cluster.get("driver_node_type_id") or node if kind == "driver_memory" else node)
        if bigger:
            if kind == "bigger_node":
                new["node_type_id"] = bigger
                changes.append(("node_type_id", node, bigger))
            if cluster.get("driver_node_type_id") or kind == "driver_memory":
                new["driver_node_type_id"] = bigger
                changes.append(("driver_node_type_id", cluster.get("driver_node_type_id"), bigger))
            return new, changes
        if kind == "driver_memory":
            return new, changes
        kind = "more_workers"
    if kind == "more_workers":
        if isinstance(cluster.get("autoscale"), dict):
            scale = dict(cluster["autoscale"])
            before = scale.get("max_workers") or 1
            scale["max_workers"] = max(before + 1, int(before * 1.5))
            new["autoscale"] = scale
            changes.append(("autoscale.max_workers", before, scale["max_workers"]))
        else:
            before = cluster.get("num_workers") or 0
            after = max(before + 1, int(before * 1.5))
            new["num_workers"] = after
            changes.append(("num_workers", before, after))
        return new, changes
    if kind == "on_demand":
        for key, value in (("aws_attributes", "ON_DEMAND"), ("azure_attributes", "ON_DEMAND_AZURE"),
                           ("gcp_attributes", "ON_DEMAND_GCP")):
            if key in cluster or (key == "aws_attributes" and not any(k in cluster for k in ("azure_attributes", "gcp_attributes"))):
                attrs = dict(cluster.get(key) or {})
                before = attrs.get("availability")
                attrs["availability"] = value
                new[key] = attrs
                changes.append((f"{key}.availability", before, value))
                break
    return new, changes
