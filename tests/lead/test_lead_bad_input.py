"""Bad input never crashes or exhausts the lead (issue 13): every file ends in a result or in
a one-line `RequirementsError` naming the file and the line.

- the reproducers of ``<repo>/../shared/data/requirements-crashes/`` (one per known cause),
  read in this process and through the real ``lead submit`` command;
- each named limit of `lead.limits`, with files built here;
- a property-based fuzz run (hypothesis, fixed seed, about a minute) over the mutations of
  `lead_mutations`, starting from the examples and the shared bundle jobs.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from lead_mutations import mutate, seed_files

from lead import limits
from lead.decompose import JobReference, PreparedJob, decompose
from lead.errors import LimitExceeded, RequirementsError
from lead.requirements import load_requirements

REPO = Path(__file__).resolve().parents[2]
CRASHES = REPO.parent / "shared" / "data" / "requirements-crashes"
REPRODUCERS = sorted(CRASHES.glob("*.md")) if CRASHES.is_dir() else []
needs_shared = pytest.mark.skipif(
    not REPRODUCERS, reason=f"shared data absent: no reproducers under {CRASHES}"
)


def outcome(path: Path):
    """The doc, or the RequirementsError; anything else escapes and fails the test."""
    try:
        return load_requirements(path)
    except RequirementsError as err:
        text = str(err)
        assert "\n" not in text
        assert text.startswith(f"{path}:{err.line}: ")
        assert err.line >= 1
        return err


def payloads_are_json(doc) -> None:
    """What `lead submit` records must serialise as strict JSON (no NaN, no huge ints)."""
    for spec in doc.task_specs:
        json.dumps(spec.payload, allow_nan=False)


# -- the reproducers -------------------------------------------------------------------

EXPECTED = {  # reproducer -> (line, a piece of the message) for those that are refused
    "c01_reader_nul_char.md": (7, "control character U+0000"),
    "c02_deep_flow_nesting.md": (7, "nested more than 64 levels"),
    "c03_int_over_4300_digits.md": (7, "the Jobs API takes 64-bit integers"),
    "c04_tag_int_bad.md": (7, "'abc' is not a valid !!int"),
    "c05_tag_float_empty.md": (7, "'' is not a valid !!float"),
    "c06_tag_float_bad.md": (7, "'abc' is not a valid !!float"),
    "c07_tag_bool_bad.md": (7, "'maybe' is not a valid !!bool"),
    "c08_tag_timestamp_bad.md": (7, "'nope' is not a valid !!timestamp"),
    "c09_unknown_tag_on_key.md": (7, "unsupported YAML tag !foo"),
    "c10_env_spec_scalar.md": (8, "environments[0].spec: must be a mapping"),
    "c12_environments_int.md": (7, "environments: must be a list"),
    "c13_tasks_int.md": (7, "tasks: must be a list"),
    "c14_libraries_int.md": (9, "libraries: must be a list"),
    "c15_job_reference_chain_1000.md": (None, f"more than {limits.MAX_JOBS} jobs"),
    "s01_alias_bomb_6x10.md": (None, "more than 100,000 nodes"),
    "s02_alias_bomb_9x10.md": (None, "more than 100,000 nodes"),
    "s03_substitution_doubling_25.md": (None, "longer than 1,000,000 characters"),
    "s05_substitution_doubling_22.md": (None, "longer than 1,000,000 characters"),
}


@needs_shared
@pytest.mark.parametrize("path", REPRODUCERS, ids=[p.name for p in REPRODUCERS])
def test_reproducer_ends_in_a_result_or_a_one_line_error(path):
    result = outcome(path)
    if path.name in EXPECTED:
        line, piece = EXPECTED[path.name]
        assert isinstance(result, RequirementsError), f"{path.name} was accepted"
        assert piece in str(result)
        if line is not None:
            assert result.line == line
    else:
        assert not isinstance(result, RequirementsError), str(result)
        payloads_are_json(result)


@needs_shared
def test_the_heading_reproducer_takes_its_title_from_the_heading():
    doc = load_requirements(CRASHES / "s04_heading_spaces_3000.md")
    assert re.fullmatch(r"a +b", doc.title)


def lead_submit(path: Path, db: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOB_AGENT_PROGRESS_DIR": str(tmp_path / "progress")}
    env.pop("JOB_AGENT_DB", None)
    return subprocess.run(
        ["uv", "run", "--offline", "lead", "submit", str(path), "--db", f"sqlite:///{db}"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("requirement", "task", "task_event")}


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """A state database holding one submitted example (so a refused file has rows to leave alone)."""
    tmp = tmp_path_factory.mktemp("seeded")
    db = tmp / "state.db"
    proc = lead_submit(REPO / "examples" / "nightly-sales.md", db, tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return db


@needs_shared
@pytest.mark.parametrize("path", REPRODUCERS, ids=[p.name for p in REPRODUCERS])
def test_reproducer_through_lead_submit(path, tmp_path, seeded_db):
    db = tmp_path / "state.db"
    db.write_bytes(seeded_db.read_bytes())
    before = counts(db)
    proc = lead_submit(path, db, tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    after = counts(db)
    if proc.returncode == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr[-3000:]
        assert re.match(rf"lead: error: {re.escape(str(path))}:\d+: ", lines[0]), lines[0]
        assert after == before  # nothing recorded
    else:
        assert after["requirement"] == before["requirement"] + 1


# -- the limits --------------------------------------------------------------------------

FRONT = "---\nworkspace_root: /Workspace/x\n---\n"


def refused(write, text: str, limit: str) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        load_requirements(write(text))
    assert info.value.limit == limit
    assert isinstance(info.value, RequirementsError)
    return info.value


def test_file_size_limit(write):
    text = FRONT + "```yaml\njobs:\n  j: {name: n}\n```\n" + "x" * limits.MAX_FILE_BYTES
    err = refused(write, text, "MAX_FILE_BYTES")
    assert err.line == 1


def test_file_size_limit_with_text_too(tmp_path):
    with pytest.raises(LimitExceeded):
        load_requirements(tmp_path / "x.md", text="a" * (limits.MAX_FILE_BYTES + 1))


def test_alias_expansion_limit_and_its_line(write):
    rows = ["a0: &a0 [" + ", ".join(["x"] * 10) + "]"]
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    text = FRONT + "```yaml\n" + "\n".join(rows) + "\njobs:\n  j: {name: n}\n```\n"
    err = refused(write, text, "MAX_YAML_NODES")
    assert 5 <= err.line <= 10


def test_node_limit_counts_all_blocks_of_the_file(write):
    items = ", ".join(["1"] * 30_000)
    blocks = "".join(f"```yaml\njobs:\n  j{i}:\n    tags: [{items}]\n```\n" for i in range(4))
    refused(write, FRONT + blocks, "MAX_YAML_NODES")


def test_nesting_limit_in_yaml(write):
    text = FRONT + "```yaml\njobs:\n  j:\n    name: " + "[" * 2000 + "\n```\n"
    err = refused(write, text, "MAX_DEPTH")
    assert err.line == 7


def test_nesting_limit_after_substitution(write):
    deep = "x"
    for _ in range(limits.MAX_DEPTH - 5):
        deep = "[" + deep + "]"
    text = ("---\nworkspace_root: /Workspace/x\nvariables:\n  deep: " + deep + "\n---\n"
            "```yaml\njobs:\n  j:\n    tasks:\n      - task_key: t\n        base: {a: {b: {c: '${var.deep}'}}}\n```\n")
    refused(write, text, "MAX_DEPTH")


def test_substituted_value_limit(write):
    rows = "  v0: " + "x" * 1000 + "\n" + "".join(f'  v{i}: "${{var.v{i - 1}}}${{var.v{i - 1}}}"\n' for i in range(1, 12))
    text = "---\nworkspace_root: /Workspace/x\nvariables:\n" + rows + "---\n```yaml\njobs:\n  j:\n    description: ${var.v11}\n```\n"
    err = refused(write, text, "MAX_VALUE_CHARS")
    assert err.field == "variables.v10"


def test_substituted_document_limit(write):
    big = "x" * 900_000
    uses = "".join(f"      k{i}: ${{var.big}}\n" for i in range(12))
    text = ("---\nworkspace_root: /Workspace/x\nvariables:\n  big: " + big + "\n---\n"
            "```yaml\njobs:\n  j:\n    tags:\n" + uses + "```\n")
    err = refused(write, text, "MAX_DOCUMENT_CHARS")
    assert err.field.startswith("resources.jobs.j.tags.k") or err.field.startswith("jobs.j.tags.k")


def test_shared_complex_variable_is_counted_each_time_it_is_used(write):
    rows = "  l0: [" + ", ".join(["abcdefghij"] * 100) + "]\n"
    rows += "".join(f"  l{i}: ['${{var.l{i - 1}}}', '${{var.l{i - 1}}}']\n" for i in range(1, 20))
    text = "---\nworkspace_root: /Workspace/x\nvariables:\n" + rows + "---\n```yaml\njobs:\n  j:\n    tags: {a: b}\n    parameters: ${var.l19}\n```\n"
    err = refused(write, text, "MAX_DOCUMENT_CHARS")
    assert err.field.startswith("variables.l")


def test_variable_nesting_limit(write):
    n = limits.MAX_VARIABLE_NESTING + 5
    rows = "  w0: x\n" + "".join(f'  w{i}: "a${{var.w{i - 1}}}"\n' for i in range(1, n))
    text = "---\nworkspace_root: /Workspace/x\nvariables:\n" + rows + "---\n```yaml\njobs:\n  j:\n    description: ${var.w" + str(n - 1) + "}\n```\n"
    refused(write, text, "MAX_VARIABLE_NESTING")


def test_variables_nested_within_the_limit_resolve(write):
    n = limits.MAX_VARIABLE_NESTING
    rows = "  w0: x\n" + "".join(f'  w{i}: "a${{var.w{i - 1}}}"\n' for i in range(1, n))
    text = "---\nworkspace_root: /Workspace/x\nvariables:\n" + rows + "---\n```yaml\njobs:\n  j:\n    description: ${var.w" + str(n - 1) + "}\n```\n"
    doc = load_requirements(write(text))
    assert doc.task_specs[0].payload["settings"]["description"] == "a" * (n - 1) + "x"


def chain(n: int) -> str:
    jobs = "".join(
        f"  c{i}:\n    tasks: [{{task_key: t, run_job_task: {{job_id: '${{resources.jobs.c{i + 1}.id}}'}}}}]\n"
        for i in range(n - 1)
    )
    return FRONT + f"```yaml\njobs:\n{jobs}  c{n - 1}:\n    name: last\n```\n"


def test_job_count_limit(write):
    err = refused(write, chain(limits.MAX_JOBS + 1), "MAX_JOBS")
    assert err.field == f"jobs.c{limits.MAX_JOBS}"


def test_longest_allowed_chain_of_job_references_is_sorted(write):
    doc = load_requirements(write(chain(limits.MAX_JOBS)))
    keys = [s.key for s in doc.task_specs]
    assert keys[0] == f"deploy_job:c{limits.MAX_JOBS - 1}"
    assert keys[-1] == "deploy_job:c0"


def test_dependency_sort_and_cycle_check_are_not_recursive():
    n = 20_000  # far past the recursion limit
    jobs = [
        PreparedJob(f"j{i}", {}, {}, i + 1, f"jobs.j{i}",
                    (JobReference(f"j{i + 1}", i + 1, f"jobs.j{i}.x"),) if i + 1 < n else ())
        for i in range(n)
    ]
    specs = decompose(jobs, [], path=Path("x.md"), owner=None, profile=None, workspace_root=None)
    assert [s.key for s in specs][:2] == [f"deploy_job:j{n - 1}", f"deploy_job:j{n - 2}"]
    jobs[-1] = PreparedJob(f"j{n - 1}", {}, {}, n, f"jobs.j{n - 1}", (JobReference("j0", n, f"jobs.j{n - 1}.x"),))
    with pytest.raises(RequirementsError) as info:
        decompose(jobs, [], path=Path("x.md"), owner=None, profile=None, workspace_root=None)
    assert info.value.message.startswith("dependency cycle between jobs: j0 -> j1 -> ")
    assert info.value.line == n


def test_heading_scan_is_linear(write):
    # 200,000 spaces: with a backtracking pattern this would take hours
    text = FRONT.replace("---\n", "---\n", 1) + "# a" + " " * 200_000 + "b\n```yaml\njobs:\n  j: {name: n}\n```\n"
    doc = load_requirements(write(text))
    assert doc.title.startswith("a ") and doc.title.endswith("b")


@pytest.mark.parametrize(
    "value, message",
    [
        ("!!int abc", "'abc' is not a valid !!int"),
        ("!!float", "'' is not a valid !!float"),
        ("!!bool maybe", "'maybe' is not a valid !!bool"),
        ("!!timestamp nope", "'nope' is not a valid !!timestamp"),
        ("!!binary aGk=", "unsupported YAML tag !!binary"),
        ("!!python/object:os.system x", "unsupported YAML tag"),
        (".nan", "is not a finite number"),
        ("99999999999999999999", "out of range"),
        ("<<", "merge key"),
    ],
)
def test_scalar_problems_are_refused_at_their_line(write, value, message):
    text = FRONT + f"```yaml\njobs:\n  j:\n    name: n\n    max_concurrent_runs: {value}\n```\n"
    with pytest.raises(RequirementsError) as info:
        load_requirements(write(text))
    assert info.value.line == 8
    assert message in info.value.message


def test_explicit_tags_that_fit_are_accepted(write):
    text = FRONT + ("```yaml\njobs:\n  j:\n    name: !!str 5\n    max_concurrent_runs: !!int 3\n"
                    "    description: !!timestamp 2024-01-02\n    timeout_seconds: !!float 1e3\n```\n")
    settings = load_requirements(write(text)).task_specs[0].payload["settings"]
    assert settings["name"] == "5"
    assert settings["max_concurrent_runs"] == 3
    assert settings["description"] == "2024-01-02"
    assert settings["timeout_seconds"] == 1000.0


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x80", "\ufffe"])
def test_control_characters_anywhere_are_refused_with_their_line(write, char):
    text = FRONT + "# Title\n\nprose" + char + "\n```yaml\njobs:\n  j: {name: n}\n```\n"
    with pytest.raises(RequirementsError) as info:
        load_requirements(write(text))
    assert info.value.line == 6
    assert f"U+{ord(char):04X}" in info.value.message


# -- the fuzz run ------------------------------------------------------------------------

SEEDS = seed_files(REPO)


@seed(20261130)
@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(SEEDS)), rng=st.randoms(use_true_random=False))
def test_fuzzed_files_end_in_a_result_or_a_one_line_error(tmp_path_factory, name, rng):
    path = tmp_path_factory.mktemp("fuzz") / "req.md"
    path.write_bytes(mutate(SEEDS[name], rng))
    result = outcome(path)
    if not isinstance(result, RequirementsError):
        payloads_are_json(result)
