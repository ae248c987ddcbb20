"""`state.redaction`: what is masked (by key, by parameter name, by the look of the value) and
what stays readable (references, ids, idempotency tokens, plain URLs)."""

from __future__ import annotations

import pytest

from state.redaction import REDACTED, credential_kind, is_secret_key, is_secret_path, redact, redact_text

DAPI = "dapi" + "0123456789abcdef" * 2
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"token {DAPI} rejected", "token *** rejected"),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
        (f"got {JWT}.", "got ***."),
        ("postgres://etl:pw-s3cret@db.example.com:5432/sales", "postgres://etl:***@db.example.com:5432/sales"),
        ("clone https://user:pa55word@git.example.com/repo.git", "clone https://user:***@git.example.com/repo.git"),
        ("jdbc:sqlserver://h:1433;database=dw;user=etl;password=xyz;encrypt=true", "jdbc:sqlserver://h:1433;database=dw;user=etl;password=***;encrypt=true"),
        ("python run.py --password=xyz --user bob", "python run.py --password=*** --user bob"),
        ("https://api.example.com/cb?access_token=abc123&page=2", "https://api.example.com/cb?access_token=***&page=2"),
        ('payload {"client_secret": "abc", "n": 1}', 'payload {"client_secret": "***", "n": 1}'),
        ('failed: DB_PASSWORD="two words" was rejected', 'failed: DB_PASSWORD="***" was rejected'),
        ("Server=h;Uid=etl;PWD=xyz;", "Server=h;Uid=etl;PWD=***;"),
    ],
)
def test_redact_text_masks_the_credential_part(text, expected):
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "password={{secrets/jdbc/password}}",
        "{{secrets/etl/api_key}}",
        "idempotency_token=0123456789abcdef0123456789abcdef",
        "run token 0123456789abcdef0123456789abcdef of job 1001, run 17",
        "https://ws.example.com/jobs/1001/runs/17?o=1",
        "https://example.com:8443/path/a@b",
        "error: invalid token: the token expired",
        "tasks[0].notebook_task.notebook_path: no such notebook",
        "see https://docs.databricks.com/api?page_token=abc",
        "secret_scope=prod token_file=/etc/tok",
        "Basic configuration of the cluster",
        "spark.databricks.delta.preview.enabled=true",
    ],
)
def test_redact_text_keeps_what_is_not_a_secret(text):
    assert redact_text(text) == text
    assert credential_kind(text) is None


def test_credential_kind_names_what_it_found():
    assert credential_kind(f"x {DAPI}") == "a Databricks token"
    assert credential_kind(JWT) == "a JSON web token"
    assert credential_kind("postgres://u:pw@h/db") == "a URL with a password"
    assert credential_kind("a;password=x") == "a password inside the text"


def test_redact_masks_by_key_parameter_name_flag_and_value():
    settings = {
        "name": "refresh the token cache",
        "parameters": [
            {"name": "service_token", "default": "svc-secret"},
            {"name": "db_password", "default": "{{secrets/db/pw}}"},
            {"name": "region", "default": "eu-west-1"},
        ],
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": {
            "spark_env_vars": {"DB_PASSWORD": "pw", "API_KEY": "{{secrets/etl/api_key}}", "LOG_LEVEL": "INFO"},
            "spark_conf": {"spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": "azkey", "spark.sql.shuffle.partitions": "8"},
        }}],
        "tasks": [{
            "task_key": "token_refresh",
            "notebook_task": {"base_parameters": {"region_hint": DAPI, "api_key": "k", "secret_scope": "prod",
                                                  "url": "https://example.com/x"}},
            "spark_python_task": {"python_file": "x.py", "parameters": ["--password", "xyz", "--user", "bob", "--token={{secrets/a/b}}"]},
            "python_wheel_task": {"named_parameters": {"client_secret": "cs", "verbose": "true"}},
        }],
        "idempotency_token": "0123456789abcdef0123456789abcdef",
        "use_token": True,
        "job_id": 1001,
    }
    out = redact(settings)
    assert out["name"] == "refresh the token cache"
    assert out["parameters"] == [
        {"name": "service_token", "default": REDACTED},
        {"name": "db_password", "default": "{{secrets/db/pw}}"},
        {"name": "region", "default": "eu-west-1"},
    ]
    cluster = out["job_clusters"][0]["new_cluster"]
    assert cluster["spark_env_vars"] == {"DB_PASSWORD": REDACTED, "API_KEY": "{{secrets/etl/api_key}}", "LOG_LEVEL": "INFO"}
    assert cluster["spark_conf"] == {"spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net": REDACTED, "spark.sql.shuffle.partitions": "8"}
    task = out["tasks"][0]
    assert task["task_key"] == "token_refresh"
    assert task["notebook_task"]["base_parameters"] == {"region_hint": REDACTED, "api_key": REDACTED, "secret_scope": "prod", "url": "https://example.com/x"}
    assert task["spark_python_task"]["parameters"] == ["--password", REDACTED, "--user", "bob", "--token={{secrets/a/b}}"]
    assert task["python_wheel_task"]["named_parameters"] == {"client_secret": REDACTED, "verbose": "true"}
    assert out["idempotency_token"] == settings["idempotency_token"] and out["use_token"] is True and out["job_id"] == 1001
    assert redact(out) == out
    assert settings["parameters"][0]["default"] == "svc-secret"  # a copy: the input is untouched


def test_plan_changes_of_secret_fields_mask_before_and_after():
    plan = {"actions": [{"kind": "UPDATE", "target": "job 1", "summary": "3 fields", "changes": [
        {"field": "parameters[service_token].default", "before": "old", "after": "new"},
        {"field": "job_clusters[main].new_cluster.spark_env_vars.DB_PASSWORD", "before": None, "after": "new"},
        {"field": 'job_clusters[main].new_cluster.spark_conf["spark.hadoop.fs.azure.account.key.a.dfs.core.windows.net"]', "before": "a", "after": "b"},
        {"field": "tasks[token_refresh].notebook_task.notebook_path", "before": "/a", "after": "/b"},
        {"field": "parameters", "before": [{"name": "service_token", "default": "old"}], "after": []},
        {"field": "tasks[load].notebook_task.base_parameters.src", "before": "postgres://u:old@h/db", "after": "postgres://u:new@h/db"},
    ]}], "idempotency_token": "0123456789abcdef0123456789abcdef"}
    changes = redact(plan)["actions"][0]["changes"]
    assert [(c["before"], c["after"]) for c in changes] == [
        (REDACTED, REDACTED),
        (None, REDACTED),
        (REDACTED, REDACTED),
        ("/a", "/b"),
        ([{"name": "service_token", "default": REDACTED}], []),
        ("postgres://u:***@h/db", "postgres://u:***@h/db"),
    ]
    assert redact(plan)["idempotency_token"] == plan["idempotency_token"]


@pytest.mark.parametrize(
    "key, secret",
    [("DATABRICKS_TOKEN", True), ("smtp_password", True), ("client_secret", True), ("API_KEY", True), ("DB_PWD", True),
     ("fs.azure.account.key.acct.dfs.core.windows.net", True), ("fs.azure.sas.c.acct.blob.core.windows.net", True),
     ("idempotency_token", False), ("next_page_token", False), ("secret_scope", False), ("token_file", False),
     ("credential_id", False), ("region", False), ("notebook_path", False), ("task_key", False)],
)
def test_is_secret_key(key, secret):
    assert is_secret_key(key) is secret


def test_is_secret_path():
    assert is_secret_path("parameters[service_token].default")
    assert is_secret_path("tasks[x].new_cluster.spark_env_vars.API_TOKEN")
    assert is_secret_path('spark_conf["fs.azure.account.key.a.dfs.core.windows.net"]')
    assert not is_secret_path("parameters[region].default")
    assert not is_secret_path("tasks[token_refresh].notebook_task.notebook_path")


def test_worker_log_lines_are_masked():
    from worker.log import format_line

    line = format_line({"task": "T-0001", "event": "note", "message": f"runs/get failed: invalid token {DAPI}; db postgres://u:pw@h/db"})
    assert DAPI not in line and ":pw@" not in line
    assert "task=T-0001" in line and "invalid token ***" in line and "postgres://u:***@h/db" in line


def test_an_authorization_header_credential_is_masked_whatever_it_looks_like():
    # Found by the MCP helper: an all-letter bearer token in a header slipped through (the
    # general rule asks for a digit so prose like "Bearer tokens" stays readable).
    from state.redaction import looks_like_credential, redact_text

    assert redact_text("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer ***"
    assert "dXNlcjpwYXNz" not in redact_text('headers={"Authorization": "Basic dXNlcjpwYXNz"}')
    assert looks_like_credential("authorization: token abcdefghijk")
    assert redact_text("Bearer tokens are described in the docs") == "Bearer tokens are described in the docs"
