"""State files shared by separately started sandboxes, the ``sandbox serve`` command, and
concurrent clients on one served sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import requests
from databricks.sdk.service import jobs

from sandbox import running_sandbox

NB = "/Shared/job-agent/notebooks/ingest"
TASK = jobs.Task(task_key="t", existing_cluster_id="0101-120000-shared01", notebook_task=jobs.NotebookTask(NB))


def test_state_file_is_shared_by_sandboxes_started_one_after_the_other(tmp_path):
    state = tmp_path / "sandbox.json"
    with running_sandbox(state_file=state, clock_speed=0) as first:
        w = first.workspace_client()
        job_id = w.jobs.create(name="persisted", tags={"job-agent-key": "k1"}, tasks=[TASK]).job_id
        run_id = w.jobs.run_now(job_id, idempotency_token="once").run_id
        token = first.token
    assert state.exists() and not list(tmp_path.glob(".sandbox-state-*"))  # atomic write left no temp file
    with running_sandbox(state_file=state, clock_speed=0) as second:
        assert second.token == token
        w = second.workspace_client()
        assert w.jobs.get(job_id).settings.tags == {"job-agent-key": "k1"}
        assert w.jobs.run_now(job_id, idempotency_token="once").run_id == run_id
        second.advance(120)
        assert w.jobs.get_run(run_id).state.result_state == jobs.RunResultState.SUCCESS
        new_job = w.jobs.create(name="second").job_id
    assert new_job != job_id


def test_simulated_time_never_goes_back_for_the_next_sandbox_on_the_file(tmp_path):
    # A run seen TERMINATED by one process was TERMINATING again for the next one (the CI run
    # of `lead runs cancel` twice): reads do not save, so the file kept the clock of the last
    # write. Stopping a sandbox now records its clock.
    import time

    state = tmp_path / "sandbox.json"
    with running_sandbox(state_file=state, clock_speed=600) as first:  # 10 simulated minutes a second
        w = first.workspace_client()
        job_id = w.jobs.create(name="long", tasks=[TASK]).job_id
        run_id = w.jobs.run_now(job_id).run_id
        w.jobs.cancel_run(run_id)
        deadline = time.monotonic() + 10
        while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.TERMINATED:
            assert time.monotonic() < deadline, "the cancelled run never ended"
            time.sleep(0.05)
    # the next sandbox's own clock starts at the real time, far behind the first one's
    with running_sandbox(state_file=state, clock_speed=0) as second:
        state_now = second.workspace_client().jobs.get_run(run_id).state
        assert (state_now.life_cycle_state, state_now.result_state) == (
            jobs.RunLifeCycleState.TERMINATED, jobs.RunResultState.CANCELED)


def test_two_stores_on_one_file_see_each_others_writes(tmp_path):
    # two processes sharing a file behave like two Store objects: flock + reload-if-changed
    from sandbox.clock import SimClock
    from sandbox.store import Store

    state = tmp_path / "shared.json"
    a, b = Store(SimClock(0), state), Store(SimClock(0), state)
    with a.transaction("tok", write=True) as ws:
        ws["jobs"]["1"] = {"job_id": 1}
        ws["next_job_id"] = 2
    with b.transaction("tok", write=True) as ws:
        assert "1" in ws["jobs"]
        ws["jobs"]["2"] = {"job_id": 2}
        ws["next_job_id"] = 3
    with a.transaction("tok") as ws:
        assert set(ws["jobs"]) == {"1", "2"} and ws["next_job_id"] == 3


def test_concurrent_clients_on_one_served_sandbox(sb):
    errors_seen: list[BaseException] = []
    created: list[int] = []
    runs: dict[str, set[int]] = {}
    lock = threading.Lock()

    def client(i: int) -> None:
        try:
            w = sb.workspace_client()
            for k in range(5):
                job_id = w.jobs.create(name=f"c{i}-{k}", tasks=[TASK]).job_id
                token = f"shared-{k}"  # every client triggers run-now with the same 5 tokens
                run_id = w.jobs.run_now(job_id, idempotency_token=token).run_id
                with lock:
                    created.append(job_id)
                    runs.setdefault(token, set()).add(run_id)
        except BaseException as e:  # reported below
            errors_seen.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors_seen == []
    assert len(created) == len(set(created)) == 40
    assert all(len(ids) == 1 for ids in runs.values())  # one run per idempotency token
    assert len(list(sb.workspace_client().jobs.list())) == 40


def test_serve_command_prints_url_and_token_and_serves(tmp_path):
    state = tmp_path / "served.json"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("rules:\n  - job: served\n    message: 'boom'\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.cli", "serve", "--port", "0", "--state", str(state),
         "--scenario", str(scenario), "--clock-speed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2])
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("Sandbox workspace listening on http://127.0.0.1:")
        host = lines[1].removeprefix("DATABRICKS_HOST=")
        token = lines[2].removeprefix("DATABRICKS_TOKEN=")
        assert token.startswith("dapi")
        from databricks.sdk import WorkspaceClient

        w = WorkspaceClient(host=host, token=token, auth_type="pat")
        job_id = w.jobs.create(name="served", tasks=[TASK]).job_id
        run_id = w.jobs.run_now(job_id).run_id
        auth = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{host}/__sandbox/scenario", headers=auth, timeout=5).json()["rules"][0]["job"] == "served"
        requests.post(f"{host}/__sandbox/clock/advance", headers=auth, json={"seconds": 120}, timeout=5)
        run = w.jobs.get_run(run_id)
        assert run.state.result_state == jobs.RunResultState.FAILED and "boom" in run.state.state_message
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with running_sandbox(state_file=state, clock_speed=0) as again:
        assert again.token == token
        assert again.workspace_client().jobs.get(job_id).settings.name == "served"


_CLIENT = r"""
import json, sys, urllib.request
url, token, me = sys.argv[1], sys.argv[2], sys.argv[3]
def call(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())
out = []
for k in range(10):
    job_id = call("/api/2.2/jobs/create", {"name": f"p{me}-{k}", "tasks": [{"task_key": "t",
        "existing_cluster_id": "0101-120000-shared01",
        "notebook_task": {"notebook_path": "/Shared/job-agent/notebooks/ingest"}}]})["job_id"]
    run_id = call("/api/2.2/jobs/run-now", {"job_id": job_id, "idempotency_token": f"shared-{k}"})["run_id"]
    out.append([job_id, run_id])
print(json.dumps(out))
"""


def test_concurrent_client_processes_on_one_served_sandbox(sb):
    procs = [subprocess.Popen([sys.executable, "-c", _CLIENT, sb.url, sb.token, str(i)], stdout=subprocess.PIPE,
                              text=True) for i in range(4)]
    results = []
    for p in procs:
        stdout, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        results.extend(__import__("json").loads(stdout))
    job_ids = [j for j, _ in results]
    assert len(job_ids) == len(set(job_ids)) == 40
    by_token: dict[int, set[int]] = {}
    for k, (_, run_id) in enumerate(results):
        by_token.setdefault(k % 10, set()).add(run_id)
    assert all(len(runs) == 1 for runs in by_token.values())  # same idempotency token -> same run
    assert len(list(sb.workspace_client().jobs.list())) == 40
