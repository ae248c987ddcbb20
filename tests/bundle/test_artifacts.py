"""Local build artifacts: `../dist/*.whl` resolves at submit against the requirements file's
directory, the worker uploads the file to `<workspace_root>/artifacts/<sha256[:16]>/<file>` and
the job (and its runs) name the uploaded path; the sandbox workspace is real HTTP and the SDK
is unmodified."""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import zipfile
from pathlib import Path

import yaml
from bundle_helpers import BUNDLE_JOBS
from sqlalchemy import select
from sqlmodel import Session

from state.models import Task

ROOT = "/Workspace/Shared/job-agent"
WHEEL = "default_python-0.0.1-py3-none-any.whl"


def make_wheel(dist: Path, body: str = "def main():\n    print('hello')\n") -> Path:
    """A tiny pure-Python wheel built with zipfile (fixed timestamps: same body, same bytes)."""
    dist.mkdir(parents=True, exist_ok=True)
    path = dist / WHEEL
    info = "default_python-0.0.1.dist-info"
    entries = {
        "default_python/__init__.py": "",
        "default_python/main.py": body,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: default_python\nVersion: 0.0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[packages]\nmain = default_python.main:main\n",
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
        zf.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2024, 1, 1, 0, 0, 0)), "")
    return path


def sample_job_block() -> str:
    """The public default_python sample job (`../dist/*.whl` dependency) without its pipeline
    task (pipelines are not managed), plus a classic-cluster job taking the wheel as a task library."""
    data = yaml.safe_load((BUNDLE_JOBS / "default_python_resources_sample_job.job.yml").read_text())
    sample = data["resources"]["jobs"]["sample_job"]
    sample["tasks"] = [t for t in sample["tasks"] if "pipeline_task" not in t]
    assert sample["environments"][0]["spec"]["dependencies"] == ["../dist/*.whl"]
    data["resources"]["jobs"]["wheel_job"] = {
        "name": "wheel job",
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": {
            "spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}}],
        "tasks": [{"task_key": "run_wheel", "job_cluster_key": "main",
                   "python_wheel_task": {"package_name": "default_python", "entry_point": "main"},
                   "libraries": [{"whl": "../dist/*.whl"}]}],
    }
    return yaml.safe_dump(data, sort_keys=False)


def requirements(extra_front: str = "", title: str = "Wheel jobs") -> str:
    return (f"---\ntitle: {title}\nbundle: wheels\ntarget: dev\nworkspace_root: {ROOT}\n"
            f"variables:\n  catalog: main\n  schema: analytics\nrun_after_deploy: [wheel_job]\n{extra_front}---\n\n"
            f"# {title}\n\n```yaml\n{sample_job_block()}```\n")


def tasks(e2e, revision: int) -> dict[str, Task]:
    with Session(e2e.engine()) as session:
        rows = session.execute(select(Task).where(Task.revision == revision).order_by(Task.id)).scalars().all()
        return {t.spec_key: t for t in rows}


def upload_path(wheel: Path) -> str:
    return f"{ROOT}/artifacts/{hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]}/{WHEEL}"


def test_wheel_job_deploys_with_the_uploaded_wheel_and_runs_with_it(e2e):
    wheel = make_wheel(e2e.root / "dist")
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements())
    code, out, err = e2e.lead("submit", str(req))
    assert code == 0, err
    uploaded = upload_path(wheel)
    payload = tasks(e2e, 1)["deploy_job:sample_job"].payload
    assert payload["settings"]["environments"][0]["spec"]["dependencies"] == [uploaded]
    assert payload["artifacts"] == [{
        "field": "environments[0].spec.dependencies[0]", "pattern": "../dist/*.whl", "local_path": str(wheel),
        "file_name": WHEEL, "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "size": wheel.stat().st_size, "workspace_path": uploaded,
    }]

    assert e2e.run_worker().get("FAILED", 0) == 0
    done = tasks(e2e, 1)
    assert {k: t.status for k, t in done.items()} == {
        "deploy_job:sample_job": "COMPLETE", "deploy_job:wheel_job": "COMPLETE", "run_job:wheel_job": "COMPLETE"}
    # the first deploy uploaded the wheel; the second found it there
    kinds = [[a["kind"] + " " + a["target"].split(" ")[0] for a in done[k].plan["actions"]]
             for k in ("deploy_job:sample_job", "deploy_job:wheel_job")]
    assert sorted(kinds) == sorted([["CREATE file", "CREATE job"], ["CREATE job"]])

    w = e2e.sb.workspace_client()
    job = w.jobs.get(done["deploy_job:sample_job"].result["job_id"])
    assert job.settings.environments[0].spec.dependencies == [uploaded]
    assert w.workspace.download(uploaded).read() == wheel.read_bytes()
    wheel_job = w.jobs.get(done["deploy_job:wheel_job"].result["job_id"])
    assert wheel_job.settings.tasks[0].libraries[0].whl == uploaded
    run = w.jobs.get_run(done["run_job:wheel_job"].result["run_id"])
    assert [t.libraries[0].whl for t in run.tasks] == [uploaded]

    # Same file, same wheel: nothing new.
    code, out, err = e2e.lead("submit", str(req), "--json")
    assert (code, json.loads(out)["outcome"]) == (0, "unchanged"), err

    # A rebuilt wheel is a new revision: uploaded again under its new hash, the jobs UPDATE.
    make_wheel(e2e.root / "dist", body="def main():\n    print('hello again')\n")
    new_path = upload_path(wheel)
    assert new_path != uploaded
    code, out, err = e2e.lead("submit", str(req), "--json")
    assert (code, json.loads(out)["revision"]) == (0, 2), err
    assert e2e.run_worker().get("FAILED", 0) == 0
    plan = tasks(e2e, 2)["deploy_job:sample_job"].plan
    assert [(a["kind"], a["target"]) for a in plan["actions"]][0] == ("CREATE", f"file {new_path}")
    assert plan["actions"][1]["kind"] == "UPDATE"
    assert [c["field"] for c in plan["actions"][1]["changes"]] == ["environments[default].spec.dependencies"]
    assert w.jobs.get(job.job_id).settings.environments[0].spec.dependencies == [new_path]
    assert w.workspace.download(new_path).read() == wheel.read_bytes()

    # Another edit of the file with the same wheel: NO_OP, and no upload.
    req.write_text(requirements(title="Wheel jobs, reworded"))
    assert e2e.lead("submit", str(req))[0] == 0
    assert e2e.run_worker().get("FAILED", 0) == 0
    for key in ("deploy_job:sample_job", "deploy_job:wheel_job"):
        assert [a["kind"] for a in tasks(e2e, 3)[key].plan["actions"]] == ["NO_OP"], key


def test_no_matching_file_is_an_error_naming_the_pattern_and_directory(e2e):
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements())
    code, out, err = e2e.lead("submit", str(req))
    assert (code, out) == (1, "")
    assert "Traceback" not in err
    assert "'../dist/*.whl'" in err and f"no file matches it in {e2e.root / 'dist'}" in err
    assert f"{req}:" in err and "environments[0].spec.dependencies[0]" in err
    code, out, err = e2e.lead("status", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_two_matching_files_are_an_error(e2e):
    make_wheel(e2e.root / "dist")
    (e2e.root / "dist" / "default_python-0.0.2-py3-none-any.whl").write_bytes(b"PK")
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements())
    code, out, err = e2e.lead("submit", str(req))
    assert code == 1 and "matches 2 files" in err and "default_python-0.0.2-py3-none-any.whl" in err


BUILD_SCRIPT = f"""\
import sys, zipfile
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_artifacts import make_wheel
if len(sys.argv) > 1:
    print("compiling default_python ...")
    print("error: boom, the build broke", file=sys.stderr)
    sys.exit(3)
make_wheel(Path("dist"))
print("built")
"""


def test_artifacts_build_command_runs_before_resolution(e2e):
    (e2e.root / "build_wheel.py").write_text(BUILD_SCRIPT)
    build = f"{shlex.quote(sys.executable)} build_wheel.py"
    front = f"artifacts:\n  default:\n    type: whl\n    path: ..\n    build: {json.dumps(build)}\n"
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements(front))
    code, out, err = e2e.lead("submit", str(req), "--json")
    assert code == 0, err
    wheel = e2e.root / "dist" / WHEEL
    assert wheel.is_file()
    assert tasks(e2e, 1)["deploy_job:wheel_job"].payload["settings"]["tasks"][0]["libraries"] == [{"whl": upload_path(wheel)}]
    assert e2e.run_worker().get("FAILED", 0) == 0
    assert e2e.sb.workspace_client().workspace.download(upload_path(wheel)).read() == wheel.read_bytes()


def test_a_failing_build_is_an_error_with_its_output_and_records_nothing(e2e):
    (e2e.root / "build_wheel.py").write_text(BUILD_SCRIPT)
    build = f"{shlex.quote(sys.executable)} build_wheel.py --fail"
    text = requirements(f"artifacts:\n  default:\n    path: ..\n    build: {json.dumps(build)}\n")
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(text)
    code, out, err = e2e.lead("submit", str(req))
    assert (code, out) == (1, "")
    line = text.splitlines().index(f"    build: {json.dumps(build)}") + 1
    assert f"{req}:{line}: artifacts.default.build:" in err
    assert "failed with exit status 3" in err and "boom, the build broke" in err and "Traceback" not in err
    assert json.loads(e2e.lead("status", "--json")[1]) == []

    req.write_text(requirements("artifacts:\n  default:\n    build: no-such-program-xyz --wheel\n"))
    code, out, err = e2e.lead("submit", str(req))
    assert code == 1 and "program not found" in err

    req.write_text(requirements("artifacts:\n  default:\n    biuld: uv build\n"))
    code, out, err = e2e.lead("submit", str(req))
    assert code == 1 and "artifacts.default.biuld" in err and "unknown artifact setting 'biuld'" in err


def test_a_file_over_the_upload_limit_is_refused(e2e):
    from lead.artifacts import MAX_ARTIFACT_BYTES

    (e2e.root / "dist").mkdir()
    with open(e2e.root / "dist" / WHEEL, "wb") as f:
        f.truncate(MAX_ARTIFACT_BYTES + 1)
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements())
    code, out, err = e2e.lead("submit", str(req))
    assert code == 1 and "at most 10 MiB" in err and "/Volumes/" in err


PYPROJECT = """\
[project]
name = "default_python"
version = "0.0.1"
requires-python = ">=3.10"

[project.scripts]
main = "default_python.main:main"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""


def test_uv_build_in_the_artifacts_block_deploys_and_a_rebuild_of_the_same_source_changes_nothing(e2e):
    import shutil

    if shutil.which("uv") is None:
        import pytest

        pytest.skip("uv is not on PATH")
    (e2e.root / "pyproject.toml").write_text(PYPROJECT)
    (e2e.root / "src" / "default_python").mkdir(parents=True)
    (e2e.root / "src" / "default_python" / "__init__.py").write_text("")
    (e2e.root / "src" / "default_python" / "main.py").write_text("def main():\n    print('hello')\n")
    req = e2e.root / "resources" / "jobs.md"
    req.parent.mkdir()
    req.write_text(requirements("artifacts:\n  default:\n    type: whl\n    path: ..\n    build: uv build --wheel --offline\n"))
    code, out, err = e2e.lead("submit", str(req), "--json")
    if code != 0 and "offline" in err.lower():
        import pytest

        pytest.skip(f"uv cannot build offline here: {err[-300:]}")
    assert code == 0, err
    wheel = e2e.root / "dist" / WHEEL
    assert e2e.run_worker().get("FAILED", 0) == 0
    w = e2e.sb.workspace_client()
    assert w.workspace.download(upload_path(wheel)).read() == wheel.read_bytes()
    # the build runs again at every submit; hatchling's wheels are reproducible: same bytes, nothing to do
    code, out, err = e2e.lead("submit", str(req), "--json")
    assert (code, json.loads(out)["outcome"]) == (0, "unchanged"), err
