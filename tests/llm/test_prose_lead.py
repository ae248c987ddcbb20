"""The prose lead through the real `lead submit` and the scripted local OpenAI-compatible server.

Real parts only: the CLI in this process, a SQLite file in a temp dir, litellm over HTTP to
`llm_server`. The docs index is absent here (ungrounded); grounding is covered end to end in
test_prose_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from lead.cli import app
from lead.cli_runner import run_cli
from lead.requirements import MIN_PROSE_WORDS, NeedsModel, load_requirements, prose_rule, prose_words
from state.engine import make_engine
from state.models import Requirement, Task

REPO = Path(__file__).resolve().parents[2]

PROSE = textwrap.dedent("""\
    ---
    title: Nightly orders
    owner: data-eng@example.com
    workspace_root: /Workspace/Shared/job-agent
    ---

    # Nightly orders

    We need a job that runs the notebook notebooks/ingest every night at 02:00 UTC
    on a small job cluster with one i3.xlarge worker, and e-mails data-eng@example.com
    when it fails.
    """)

GOOD = textwrap.dedent("""\
    resources:
      jobs:
        nightly_orders:
          name: Nightly orders
          schedule:
            quartz_cron_expression: "0 0 2 * * ?"
            timezone_id: UTC
          email_notifications:
            on_failure:
              - data-eng@example.com
          job_clusters:
            - job_cluster_key: main
              new_cluster:
                spark_version: 15.4.x-scala2.12
                node_type_id: i3.xlarge
                num_workers: 1
          tasks:
            - task_key: ingest
              job_cluster_key: main
              notebook_task:
                notebook_path: notebooks/ingest
    """)

# line 20 of the block: the misspelt task kind
BAD = GOOD.replace("notebook_task:", "notebook_taskk:")
BAD_LINE = BAD.splitlines().index("          notebook_taskk:") + 1


def answer(yaml_text: str, prefix: str = "Here are the jobs.\n\n") -> str:
    return f"{prefix}```yaml\n{yaml_text}```\n"


class Lead:
    """The real `lead` CLI in this process, with its own database and progress dir."""

    def __init__(self, root: Path, capsys) -> None:
        self.root = root
        self.db = root / "state.db"
        self.progress = root / "progress"
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run_cli(app, "lead", [*args, "--db", f"sqlite:///{self.db}", "--progress-dir", str(self.progress)]
                       if args[0] == "submit" else list(args))
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def write(self, text: str, name: str = "orders.md") -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def rows(self) -> tuple[list[Requirement], list[Task]]:
        engine = make_engine(f"sqlite:///{self.db}")
        with Session(engine) as session:
            reqs = list(session.execute(select(Requirement)).scalars())
            tasks = list(session.execute(select(Task).order_by(Task.id)).scalars())
        engine.dispose()
        return reqs, tasks


@pytest.fixture
def lead(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))  # no docs index: ungrounded
    return Lead(tmp_path, capsys)


def user_turns(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


def test_prose_becomes_validated_jobs_recorded_with_the_generated_yaml(lead, llm_env):
    llm_env.script([answer(GOOD)])
    code, out, err = lead("submit", str(lead.write(PROSE)), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["generated"]["yaml"] == GOOD
    assert data["generated"]["job_keys"] == ["nightly_orders"]
    assert data["generated"]["grounded"] is False
    assert "ungrounded" in err and "no docs index" in err
    [request] = llm_env.requests
    prompt = user_turns(request)[0]
    assert "every night at 02:00 UTC" in prompt
    assert "No workspace root" not in prompt and "/Workspace/Shared/job-agent" in prompt

    reqs, tasks = lead.rows()
    assert [t.spec_key for t in tasks] == ["deploy_job:nightly_orders"]
    payload = tasks[0].payload
    # the same parsing as hand-written YAML: relative path resolved, schedule kept, lines of the block
    assert payload["settings"]["tasks"][0]["notebook_task"]["notebook_path"] == "/Workspace/Shared/job-agent/files/notebooks/ingest"
    assert payload["settings"]["schedule"]["quartz_cron_expression"] == "0 0 2 * * ?"
    assert payload["source"] == {"path": f"{lead.root / 'orders.md'} (generated YAML)", "line": 3}
    assert payload["field_lines"]["tasks[0].notebook_task.notebook_path"] == GOOD.splitlines().index(
        "            notebook_path: notebooks/ingest") + 1
    assert payload["generated"]["yaml"] == GOOD and payload["generated"]["model"] == llm_env.model
    assert tasks[0].source_field == "resources.jobs.nightly_orders (generated YAML line 3)"

    page = next(lead.progress.glob("REQ-0001-*.md")).read_text()
    assert "## Generated job definitions" in page
    assert "```yaml\n" + GOOD.rstrip("\n") + "\n```" in page
    assert "Ungrounded" in page


def test_same_prose_submitted_again_is_unchanged_from_the_cache(lead, llm_env):
    llm_env.script([answer(GOOD)])
    path = lead.write(PROSE)
    assert lead("submit", str(path))[0] == 0
    code, out, err = lead("submit", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["outcome"] == "unchanged"
    assert len(llm_env.requests) == 1  # answered from llm_cache: no second HTTP call


def test_invalid_then_valid_repair_round_names_field_and_line(lead, llm_env):
    llm_env.script([answer(BAD), answer(GOOD)])
    code, out, err = lead("submit", str(lead.write(PROSE)))
    assert code == 0, err
    assert len(llm_env.requests) == 2
    repair = user_turns(llm_env.requests[1])[-1]
    assert f"generated YAML line {BAD_LINE}: resources.jobs.nightly_orders.tasks[0].notebook_taskk: " in repair
    assert "did you mean 'notebook_task'" in repair
    assert "```yaml\n" + GOOD.rstrip("\n") in out  # the accepted YAML is printed
    _, tasks = lead.rows()
    assert "notebook_task" in tasks[0].payload["settings"]["tasks"][0]


def test_still_invalid_fails_with_the_errors_and_records_nothing(lead, llm_env):
    llm_env.script([answer(BAD), answer(BAD)])
    code, out, err = lead("submit", str(lead.write(PROSE)))
    assert code == 1
    assert out == ""
    assert "could not turn the prose into valid job settings after a repair round" in err
    assert f"generated YAML line {BAD_LINE}: resources.jobs.nightly_orders.tasks[0].notebook_taskk" in err
    assert "Traceback" not in err
    reqs, tasks = lead.rows()
    assert (reqs, tasks) == ([], [])
    assert not lead.progress.exists()


def test_an_answer_without_one_yaml_block_is_sent_back(lead, llm_env):
    llm_env.script(["I would create a nightly job.", answer(GOOD)])
    assert lead("submit", str(lead.write(PROSE)))[0] == 0
    assert "exactly one fenced ```yaml block" in user_turns(llm_env.requests[1])[-1]


def test_prose_only_file_without_a_model_says_an_llm_is_needed_and_records_nothing(lead, monkeypatch):
    monkeypatch.setattr("llm.gateway._said_off", False)  # said once per process: maybe already said
    code, out, err = lead("submit", str(lead.write(PROSE)))
    assert code == 1
    assert "needs an LLM" in err and "JOB_AGENT_LLM_MODEL" in err
    assert "LLM is off" in err
    assert "Traceback" not in err
    assert not lead.db.exists() and not lead.progress.exists()


def test_llm_off_in_front_matter_wins_over_the_environment(lead, llm_env):
    code, _, err = lead("submit", str(lead.write(PROSE.replace("title:", "llm: off\ntitle:", 1))))
    assert code == 1 and "needs an LLM" in err
    assert llm_env.requests == []


def test_dry_run_prints_the_generated_yaml_and_records_nothing(lead, llm_env):
    llm_env.script([answer(GOOD)])
    code, out, err = lead("submit", str(lead.write(PROSE)), "--dry-run")
    assert code == 0, err
    assert "```yaml\n" + GOOD.rstrip("\n") + "\n```" in out
    assert "deploy_job:nightly_orders" in out and "nothing recorded" in out
    reqs, tasks = lead.rows()
    assert (reqs, tasks) == ([], [])
    assert not lead.progress.exists()
    # the real submit afterwards gets the very answer the dry run showed, from the cache
    code, out, _ = lead("submit", str(lead.root / "orders.md"), "--json")
    assert code == 0 and json.loads(out)["generated"]["yaml"] == GOOD
    assert len(llm_env.requests) == 1


def test_generate_true_adds_jobs_next_to_hand_written_ones(lead, llm_env):
    text = PROSE.replace("title:", "generate: true\ntitle:", 1) + textwrap.dedent("""\

        It should also start after the existing cleanup job is deployed.

        ```yaml
        resources:
          jobs:
            cleanup:
              name: cleanup
              tasks:
                - task_key: clean
                  notebook_task:
                    notebook_path: /Workspace/Shared/clean
        ```
        """)
    with_run = GOOD.replace("      tasks:\n", "      tasks:\n        - task_key: cleanup_first\n"
                                          "          run_job_task:\n"
                                          "            job_id: ${resources.jobs.cleanup.id}\n")
    assert with_run != GOOD
    llm_env.script([answer(with_run)])
    code, out, err = lead("submit", str(lead.write(text)), "--json")
    assert code == 0, err
    prompt = user_turns(llm_env.requests[0])[0]
    assert "Jobs already defined in the file" in prompt and "cleanup" in prompt
    assert "```yaml" not in prompt.split("<<<")[1].split(">>>")[0]  # only prose goes in, not the YAML
    rows = json.loads(out)["tasks"]
    assert [r["title"] for r in rows] == ["Deploy job cleanup", "Deploy job nightly_orders (Nightly orders)"]
    assert rows[1]["depends_on"] == [rows[0]["id"]]
    _, tasks = lead.rows()
    assert "generated" not in tasks[0].payload
    assert tasks[1].payload["generated"]["yaml"] == with_run


def test_redefining_a_hand_written_job_is_a_validation_error(lead, llm_env):
    text = PROSE.replace("title:", "generate: true\ntitle:", 1) + textwrap.dedent("""\

        ```yaml
        resources:
          jobs:
            nightly_orders:
              name: x
              tasks:
                - task_key: clean
                  notebook_task:
                    notebook_path: /Workspace/Shared/clean
        ```
        """)
    llm_env.script([answer(GOOD), answer(GOOD)])
    code, _, err = lead("submit", str(lead.write(text)))
    assert code == 1
    assert "generated YAML line 3: resources.jobs.nightly_orders: duplicate job key 'nightly_orders'" in err


def test_structured_file_never_calls_or_imports_the_model(tmp_path, llm_server):
    """examples/nightly-sales.md with a model configured: no request, and litellm, chromadb and
    sentence-transformers are never imported (a fresh process, so earlier tests cannot hide it)."""
    script = textwrap.dedent(f"""\
        import sys
        from lead.cli import app
        from lead.cli_runner import run_cli
        code = run_cli(app, "lead", ["submit", {str(REPO / 'examples' / 'nightly-sales.md')!r},
                                     "--db", "sqlite:///{tmp_path / 'state.db'}", "--progress-dir", {str(tmp_path / 'p')!r}])
        print("EXIT", code)
        print("IMPORTED", sorted(m for m in ("litellm", "chromadb", "sentence_transformers") if m in sys.modules))
        """)
    env = dict(os.environ, **llm_server.env)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "EXIT 0" in done.stdout, done.stderr
    assert "IMPORTED []" in done.stdout
    assert llm_server.requests == []


# -- the rule, on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generate", "has_jobs", "other", "words", "expected"),
    [
        (None, False, False, MIN_PROSE_WORDS, True),
        (None, False, False, MIN_PROSE_WORDS - 1, False),  # a heading alone never calls the model
        (None, True, False, 500, False),  # a structured file never does
        (None, False, True, 500, False),  # monitors / remediation watch are work for the rules
        (True, True, False, 0, True),
        (False, False, False, 500, False),
    ],
)
def test_prose_rule(generate, has_jobs, other, words, expected):
    assert prose_rule(generate, has_jobs, other, words) is expected


def test_prose_words_leave_out_fenced_blocks():
    body = "# Title\n\nRun a job nightly.\n\n```yaml\njobs: {a: {name: b}}\n```\nAfter the block.\n"
    prose, words = prose_words(body, 5)
    assert "jobs:" not in prose and "After the block." in prose
    assert words == 8


def test_examples_are_structured(tmp_path):
    for example in sorted((REPO / "examples").glob("*.md")):
        load_requirements(example)  # NeedsModel would be raised for a file the model must write


def test_needs_model_still_reads_as_no_jobs_to_rules_only_callers(tmp_path):
    path = tmp_path / "p.md"
    path.write_text(PROSE)
    with pytest.raises(NeedsModel) as info:
        load_requirements(path)
    assert info.value.message.startswith("no jobs: the file has no fenced ```yaml block")
    assert "LLM" in info.value.message
    assert info.value.request.job_keys == () and "02:00 UTC" in info.value.request.prose


def test_malformed_llm_and_generate_front_matter_are_located(tmp_path):
    path = tmp_path / "p.md"
    path.write_text(PROSE.replace("title:", "generate: maybe\ntitle:", 1))
    with pytest.raises(Exception) as info:
        load_requirements(path)
    assert (info.value.line, info.value.field) == (2, "generate")
    path.write_text(PROSE.replace("title:", "llm: {model: openai/x, temperature: 2}\ntitle:", 1))
    with pytest.raises(Exception) as info:
        load_requirements(path)
    assert (info.value.line, info.value.field) == (2, "llm") and "temperature" in info.value.message


def test_front_matter_llm_chooses_the_model_without_the_environment(lead, llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm_server.script([answer(GOOD)])
    front = f"llm:\n  model: {llm_server.model}\n  api_base: {llm_server.url}\ntitle:"
    code, out, err = lead("submit", str(lead.write(PROSE.replace("title:", front, 1))), "--json")
    assert code == 0, err
    assert json.loads(out)["generated"]["model"] == llm_server.model
    assert len(llm_server.requests) == 1


def test_model_that_does_not_answer_is_a_clear_error_and_records_nothing(lead, llm_env):
    llm_env.script([{"status": 500}] * 3)
    code, out, err = lead("submit", str(lead.write(PROSE.replace("title:", "llm: {timeout_s: 5}\ntitle:", 1))))
    assert code == 1 and out == ""
    assert "did not answer" in err and "Traceback" not in err
    reqs, tasks = lead.rows()
    assert (reqs, tasks) == ([], [])
    assert not lead.progress.exists()


def test_dry_run_of_a_structured_file_lists_its_tasks_without_a_model(lead, llm_env):
    code, out, err = lead("submit", str(REPO / "examples" / "nightly-sales.md"), "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["dry_run"] is True and data["generated"] is None
    assert data["tasks"] and all(t["key"].split(":")[0] in ("deploy_job", "run_job", "watch_runs", "monitor_query")
                                 for t in data["tasks"])
    assert llm_env.requests == []
    assert not lead.db.exists() and not lead.progress.exists()


def test_a_token_in_the_prose_never_reaches_the_model_or_the_output(lead, llm_env):
    token = "dapi" + "0123456789abcdef" * 2
    prose = PROSE.replace("when it fails.", f"when it fails. Use the token {token} to call the API.")
    llm_env.script([answer(GOOD.replace("      name: Nightly orders\n", f"      name: Nightly orders\n      description: {token}\n"))])
    code, out, err = lead("submit", str(lead.write(prose)), "--dry-run")
    assert code == 0, err
    assert token not in json.dumps(llm_env.requests)
    assert token not in out and token not in err


def test_a_problem_outside_the_block_is_located_in_the_file(lead, llm_env):
    text = PROSE.replace("title:", "run_after_deploy: [nightly]\ntitle:", 1)
    llm_env.script([answer(GOOD), answer(GOOD.replace("    nightly_orders:", "    nightly:"))])
    code, out, err = lead("submit", str(lead.write(text)), "--json")
    assert code == 0, err
    assert "must define these job keys): nightly" in user_turns(llm_env.requests[0])[0]
    repair = user_turns(llm_env.requests[1])[-1]
    assert "orders.md line 2: run_after_deploy[0]: run_after_deploy names job 'nightly'" in repair
    assert [t["type"] for t in json.loads(out)["tasks"]] == ["deploy_job", "run_job"]


def test_a_literal_secret_in_generated_yaml_is_warned_at_its_generated_line(lead, llm_env):
    with_secret = GOOD.replace("          notebook_task:\n", "          notebook_task:\n            base_parameters:\n"
                                                            "              password: hunter2hunter2\n")
    assert with_secret != GOOD
    llm_env.script([answer(with_secret)])
    code, _, err = lead("submit", str(lead.write(PROSE)))
    assert code == 0, err
    line = with_secret.splitlines().index("              password: hunter2hunter2") + 1
    assert f"orders.md (generated YAML):{line}:" in err
    assert "hunter2hunter2" not in err
