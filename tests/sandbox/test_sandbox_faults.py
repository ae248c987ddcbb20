"""Fault rules: 429 and 503 recovered by the SDK's own retry, added latency, lost responses
(the duplicate hazard of naive clients, and how idempotency tokens avoid it), and the control
endpoints used by other processes. Retry-After is 0 so the SDK sleeps under a second per retry.
"""

from __future__ import annotations

import pytest
import requests
from databricks.sdk import errors
from databricks.sdk.service import jobs

from sandbox.errors import InvalidParameterValue

NB = "/Shared/job-agent/notebooks/ingest"


def test_429_with_retry_after_is_retried_by_the_sdk(sb, w):
    sb.add_fault("/api/2.2/jobs/create", "429", count=1, retry_after=0)
    job_id = w.jobs.create(name="throttled").job_id
    assert [j.job_id for j in w.jobs.list(name="throttled")] == [job_id]  # applied exactly once
    (rule,) = sb.faults()
    assert rule["fired"] == 1 and rule["seen"] == 2


def test_503_is_retried_by_the_sdk(sb, w):
    job_id = w.jobs.create(name="x").job_id
    sb.add_fault("/api/2.2/jobs/get", "503", count=2, retry_after=0)
    assert w.jobs.get(job_id).settings.name == "x"
    assert sb.faults()[0]["fired"] == 2


def test_offset_lets_the_first_requests_through(sb, w):
    sb.add_fault("/api/2.2/jobs/*", "429", count=1, offset=2, method="GET")
    job_id = w.jobs.create(name="x").job_id  # POST: not matched
    w.jobs.get(job_id)
    w.jobs.get(job_id)
    assert sb.faults()[0]["fired"] == 0
    w.jobs.get(job_id)  # third GET is throttled once, then retried
    rule = sb.faults()[0]
    assert rule["fired"] == 1 and rule["seen"] == 4


def test_latency_rule_delays_but_serves(sb, w):
    sb.add_fault("/api/2.0/preview/scim/v2/Me", "latency", count=1, latency_ms=30)
    assert w.current_user.me().user_name == "sandbox-user@example.com"
    assert sb.faults()[0]["fired"] == 1


def test_lost_response_on_create_makes_a_naive_retry_duplicate(sb, w):
    sb.add_fault("/api/2.2/jobs/create", "lose_response", count=1, mode="drop")
    w.jobs.create(name="dup")  # the connection drops after the job was created; the SDK retries
    assert len(list(w.jobs.list(name="dup"))) == 2


def test_lost_response_on_run_now_is_safe_with_an_idempotency_token(sb, w):
    job_id = w.jobs.create(name="idem", tasks=[jobs.Task(
        task_key="t", existing_cluster_id="0101-120000-shared01", notebook_task=jobs.NotebookTask(NB))]).job_id
    sb.add_fault("/api/2.2/jobs/run-now", "lose_response", count=1, mode="503")
    run_id = w.jobs.run_now(job_id, idempotency_token="tok-1").run_id
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id)] == [run_id]


def test_lost_response_as_504_surfaces_to_the_client(sb, w):
    sb.add_fault("/api/2.2/jobs/create", "lose_response", count=1, mode="504")
    with pytest.raises(errors.DeadlineExceeded):
        w.jobs.create(name="applied")
    assert len(list(w.jobs.list(name="applied"))) == 1  # applied although the client saw an error


def test_control_endpoints_over_http(sb, w):
    auth = {"Authorization": f"Bearer {sb.token}"}
    resp = requests.post(f"{sb.url}/__sandbox/faults", headers=auth, timeout=5,
                         json={"path": "/api/2.1/clusters/*", "kind": "429", "count": 1, "retry_after": 0})
    assert resp.status_code == 200 and resp.json()["id"] >= 1
    assert len(list(w.clusters.list())) == 3
    listed = requests.get(f"{sb.url}/__sandbox/faults", headers=auth, timeout=5).json()["faults"]
    assert listed[0]["fired"] == 1
    bad = requests.post(f"{sb.url}/__sandbox/faults", headers=auth, timeout=5, json={"path": "/x", "kind": "418"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert requests.delete(f"{sb.url}/__sandbox/faults", headers=auth, timeout=5).status_code == 200
    assert requests.get(f"{sb.url}/__sandbox/faults", headers=auth, timeout=5).json() == {"faults": []}
    now = requests.get(f"{sb.url}/__sandbox/clock", headers=auth, timeout=5).json()["now_ms"]
    moved = requests.post(f"{sb.url}/__sandbox/clock/advance", headers=auth, json={"seconds": 60}, timeout=5)
    assert moved.json()["now_ms"] == now + 60_000  # the session clock is frozen


def test_faults_are_per_token(sb, sandbox_server):
    sb.add_fault("/api/2.2/jobs/list", "latency", count=None, latency_ms=1)
    other = sandbox_server.workspace_client()
    list(other.jobs.list())
    assert sb.faults()[0]["seen"] == 0


def test_invalid_rule_is_refused(sb):
    with pytest.raises(InvalidParameterValue, match="Fault kind"):
        sb.add_fault("/api/*", "teapot")


def test_scenario_and_reset_control_endpoints(sb, w, tmp_path):
    auth = {"Authorization": f"Bearer {sb.token}"}
    resp = requests.post(f"{sb.url}/__sandbox/scenario", headers=auth, timeout=5,
                         json={"rules": [{"job": "scripted", "message": "scripted failure"}]})
    assert resp.json() == {"rules": 1}
    job_id = w.jobs.create(name="scripted", tasks=[jobs.Task(
        task_key="t", existing_cluster_id="0101-120000-shared01", notebook_task=jobs.NotebookTask(NB))]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    sb.advance(300)
    assert w.jobs.get_run(run_id).state.result_state == jobs.RunResultState.FAILED
    path = tmp_path / "scenario.yaml"
    path.write_text("rules: []\n")
    assert requests.post(f"{sb.url}/__sandbox/scenario", headers=auth, json={"path": str(path)},
                         timeout=5).json() == {"rules": 0}
    bad = requests.post(f"{sb.url}/__sandbox/scenario", headers=auth, json={"rules": [{"jbo": "x"}]}, timeout=5)
    assert bad.status_code == 400 and "unknown keys" in bad.json()["message"]
    assert requests.post(f"{sb.url}/__sandbox/reset", headers=auth, timeout=5).status_code == 200
    assert list(w.jobs.list()) == []
    assert w.workspace.get_status("/Shared/job-agent/notebooks/ingest").path == "/Shared/job-agent/notebooks/ingest"


def test_probability_faults_a_seeded_share_of_requests(sb):
    sb.add_fault("/api/2.1/clusters/spark-versions", "503", count=None, probability=0.25, seed=7)
    headers = {"Authorization": f"Bearer {sb.token}"}
    with requests.Session() as http:
        codes = [http.get(f"{sb.url}/api/2.1/clusters/spark-versions", headers=headers).status_code for _ in range(200)]
    (rule,) = sb.faults()
    assert (rule["seen"], rule["fired"]) == (200, codes.count(503))
    assert set(codes) == {200, 503}
    assert 30 <= codes.count(503) <= 70  # about a quarter


@pytest.mark.parametrize("probability", [0, 1.5, "often"])
def test_probability_out_of_range_is_refused(sb, probability):
    with pytest.raises(InvalidParameterValue, match="probability"):
        sb.add_fault("/api/*", "429", probability=probability)
