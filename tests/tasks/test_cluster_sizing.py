"""Bigger compute for a retry: the next larger node of the same family, more workers, on-demand."""

from __future__ import annotations

from tasks.cluster_sizing import bigger_node_type, node_family, resized_cluster

NODES = [
    {"node_type_id": "i3.xlarge", "memory_mb": 31232}, {"node_type_id": "i3.2xlarge", "memory_mb": 62464},
    {"node_type_id": "i3.4xlarge", "memory_mb": 124928}, {"node_type_id": "r5.4xlarge", "memory_mb": 131072},
    {"node_type_id": "m5.large", "memory_mb": 8192}, {"node_type_id": "m5.xlarge", "memory_mb": 16384, "is_deprecated": True},
    {"node_type_id": "Standard_DS3_v2", "memory_mb": 14336}, {"node_type_id": "Standard_DS4_v2", "memory_mb": 28672},
]


def test_families_and_the_next_larger_node():
    assert [node_family(n) for n in ("i3.2xlarge", "n2-highmem-8", "Standard_DS4_v2")] == ["i3", "n2-highmem", "Standard_DS#_v#"]
    assert bigger_node_type(NODES, "i3.xlarge") == "i3.2xlarge"
    assert bigger_node_type(NODES, "i3.4xlarge") is None  # r5 is another family
    assert bigger_node_type(NODES, "m5.large") is None  # the only bigger m5 is deprecated
    assert bigger_node_type(NODES, "Standard_DS3_v2") == "Standard_DS4_v2"
    assert bigger_node_type(NODES, "unknown.type") is None


def test_resized_cluster_changes_and_falls_back_to_more_workers():
    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
    new, changes = resized_cluster(cluster, "bigger_node", NODES)
    assert new["node_type_id"] == "i3.2xlarge" and changes == [("node_type_id", "i3.xlarge", "i3.2xlarge")]
    assert cluster["node_type_id"] == "i3.xlarge"  # the input is not changed
    new, changes = resized_cluster({**cluster, "node_type_id": "i3.4xlarge"}, "bigger_node", NODES)
    assert changes == [("num_workers", 2, 3)]
    new, changes = resized_cluster({"node_type_id": "m5.large", "autoscale": {"min_workers": 1, "max_workers": 4}}, "more_workers", NODES)
    assert changes == [("autoscale.max_workers", 4, 6)]
    new, changes = resized_cluster({"node_type_id": "i3.xlarge", "aws_attributes": {"availability": "SPOT"}}, "on_demand", NODES)
    assert changes == [("aws_attributes.availability", "SPOT", "ON_DEMAND")]
