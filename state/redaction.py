"""Keeping secrets out of what people read: `lead` output, progress files, logs, e-mails, LLM prompts.

Two functions, and everything that shows stored data calls one of them:

- `redact(value)` for JSON-like data (payloads, plans, results): a copy with secrets replaced
  by `***`;
- `redact_text(text)` for free text (error messages, log lines, event reasons): the
  credential part of the text replaced by `***`, the rest kept.

A value is masked when
- its key looks secret (`DB_PASSWORD`, `api_key`, `client_secret`, `service_token`; also
  `spark_conf` keys such as `fs.azure.account.key.<account>...`): this covers
  `spark_env_vars`, `spark_conf`, `base_parameters`, `named_parameters`, ... by their keys;
- it is the `default` (or `value`) of a parameter whose `name` looks secret (job
  `parameters: [{name: service_token, default: ...}]`), or follows a secret-named CLI flag in
  a list of arguments (`["--password", "xyz"]`);
- it is a plan change (`{"field", "before", "after"}`) of such a field
  (`spark_env_vars.API_TOKEN`, `parameters[service_token].default`);
- or the value itself looks like a credential: a Databricks token (`dapi...`), a JWT, a known
  token format (GitHub, Slack, AWS access key id, `sk-...`), the password of a URL
  (`postgres://u:***@h/db`), `password=...` / `token=...` inside a string (JDBC
  `;password=xyz`, `--password=xyz`, `?access_token=...`), `Bearer ...`.

Not secrets, and kept: Databricks secret references (`{{secrets/scope/key}}`, resolved by
Databricks at run time), idempotency and page tokens, job and run ids, hex run tokens, and
URLs without a password.

The state database keeps job settings as they were written in the requirements file (the
worker has to send them); masking happens when something is shown.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(token|passw(or)?d|passphrase|secret|api[_-]?key|apikey|credential|private[_-]?key|access[_-]?key"
    r"|account[._-]?key|authorization|(^|[._-])pwd([._-]|$)|(^|[._-])sas([._-]|$))",
    re.IGNORECASE,
)
_SECRET_REFERENCE = re.compile(r"^\{\{secrets/[^}]+\}\}$")

_NOT_SECRET = frozenset({
    "idempotency_token", "page_token", "next_page_token", "prev_page_token", "token_type",
    "max_tokens", "token_count", "access_key_id", "aws_access_key_id",
})
"""Keys that match the pattern but hold no secret (API bookkeeping, identifiers)."""

_NAMING_SUFFIX = re.compile(r"[._-](scope|name|id|path|file|url|uri|ref)$", re.IGNORECASE)
"""A key that names where a secret lives (`secret_scope`, `token_file`, `credential_id`) holds no secret."""

_PARAMETER_VALUE_KEYS = ("default", "value")
_LINE_MAPS = frozenset({"field_lines"})
_CONTAINER_FIELDS = ("spark_conf", "spark_env_vars", "base_parameters", "named_parameters", "job_parameters",
                     "python_named_params", "notebook_params", "sql_params", "custom_tags", "tags")


def is_secret_key(key: str) -> bool:
    """True when a mapping key names something secret (e.g. `DATABRICKS_TOKEN`, `smtp_password`,
    `fs.azure.account.key.acct.dfs.core.windows.net`); false for bookkeeping like
    `idempotency_token` and for names of where a secret lives (`secret_scope`, `token_file`)."""
    lowered = key.lower()
    if lowered in _NOT_SECRET or _NAMING_SUFFIX.search(lowered):
        return False
    return bool(_SECRET_KEY.search(key))


def is_secret_reference(value: Any) -> bool:
    """True for a Databricks secret reference `{{secrets/<scope>/<key>}}` (not itself a secret)."""
    return isinstance(value, str) and bool(_SECRET_REFERENCE.match(value.strip()))


def is_secret_path(field: str) -> bool:
    """True when a dotted field path names a secret value: its last key looks secret
    (`tasks[x].new_cluster.spark_env_vars.API_TOKEN`, `spark_conf["fs.azure.account.key.a"]`), or it
    is the `default`/`value` of a parameter whose name looks secret (`parameters[service_token].default`)."""
    parts = [p for p in re.findall(r'\["([^"]*)"\]|\[([^\]]*)\]|([^.\[\]]+)', field)]
    names = [quoted or bracketed or plain for quoted, bracketed, plain in parts]
    if not names:
        return False
    last = names[-1]
    if last in _PARAMETER_VALUE_KEYS and len(names) >= 2:
        return is_secret_key(names[-2]) or is_secret_key(last)
    if is_secret_key(last):
        return True
    # spark_conf keys with dots written unquoted: `spark_conf.fs.azure.account.key.acct`
    for container in _CONTAINER_FIELDS:
        marker = f"{container}."
        if marker in field and is_secret_key(field.split(marker, 1)[1]):
            return True
    return False


# -- free text ----------------------------------------------------------------------------

_KNOWN_TOKENS = re.compile(
    r"\b(?:"
    r"dapi[0-9a-f]{32}(?:-\d+)?"                       # Databricks personal access token
    r"|dose[0-9a-f]{32}(?:-\d+)?"                      # Databricks OAuth secret
    r"|dkea[0-9a-f]{32}(?:-\d+)?"                      # Databricks (legacy) token
    r"|eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWT: header.payload.signature
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}"      # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"                  # Slack
    r"|AKIA[0-9A-Z]{16}"                               # AWS access key id (paired with its secret)
    r"|sk-[A-Za-z0-9_-]{20,}"                          # OpenAI-style API keys
    r")\b"
)
_URL_PASSWORD = re.compile(r"(?P<head>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://[^\s/:@?#]*+:)(?P<secret>[^\s@/?#]++)(?P<at>@)")
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)(?P<secret>(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,})")
_AUTHORIZATION = re.compile(r"(?P<head>\bAuthorization\s*[:=]\s*[\"']?(?:Bearer|Basic|Token)\s+)(?P<secret>[^\s\"',;]+)", re.IGNORECASE)
"""An HTTP `Authorization` header's credential: masked whatever it looks like (the header says what it is)."""
_ASSIGNMENT = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]++)(?P<q>["']?)(?P<sep>\s*+=\s*+|(?<=["'])\s*+:\s*+)"""
    r"""(?P<value>"[^"]*"|'[^']*'|\{\{secrets/[^}]*\}\}|[^\s;&,'"<>)}\]]++)"""
)
"""`key=value` (or `"key": "value"`); masked when the key looks secret (`_mask_assignments`)."""


def _masked_value(match: re.Match) -> str | None:
    """The masked value of an assignment whose key looks secret, else None."""
    value = match.group("value")
    bare = value.strip("\"'")
    if not is_secret_key(match.group("key")) or is_secret_reference(bare) or bare in ("", REDACTED):
        return None
    return value[0] + REDACTED + value[0] if value[:1] in "\"'" else REDACTED


def _mask_assignments(text: str) -> str:
    """Mask the values of secret-named assignments; a value that is not masked is searched too
    (`message="DB_PASSWORD=x"`). Linear in the length of `text`."""
    out, pos = [], 0
    while (match := _ASSIGNMENT.search(text, pos)) is not None:
        masked = _masked_value(match)
        out.append(text[pos:match.start("value")])
        if masked is None:
            pos = match.start("value")
        else:
            out.append(masked)
            pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def redact_text(text: str) -> str:
    """`text` with the credential parts masked: tokens of known formats (`dapi...`, JWTs, ...),
    URL passwords (`postgres://u:***@h/db`), `password=...`-style assignments of secret-named
    keys (`;password=***`, `--password=***`, `"token": "***"`) and `Bearer ...` credentials.
    Secret references (`{{secrets/scope/key}}`), ids, URLs without a password and hex tokens stay."""
    if not isinstance(text, str) or not text:
        return text
    out = _KNOWN_TOKENS.sub(REDACTED, text)
    out = _URL_PASSWORD.sub(lambda m: m.group("head") + (m.group("secret") if m.group("secret") == REDACTED else REDACTED) + m.group("at"), out)
    out = _AUTHORIZATION.sub(lambda m: m.group("head") + REDACTED, out)
    out = _BEARER.sub(lambda m: m.group("head") + REDACTED, out)
    return _mask_assignments(out)


def looks_like_credential(text: str) -> bool:
    """True when `redact_text` would mask part of `text` (a token, a URL password, `password=...`)."""
    return isinstance(text, str) and redact_text(text) != text


def credential_kind(text: str) -> str | None:
    """What credential `text` carries, in words (`"a Databricks token"`, `"a URL with a password"`,
    ...), or None when `redact_text` would leave it as it is."""
    if not isinstance(text, str) or not text:
        return None
    found = _KNOWN_TOKENS.search(text)
    if found:
        token = found.group(0)
        if token.startswith(("dapi", "dose", "dkea")):
            return "a Databricks token"
        return "a JSON web token" if token.startswith("eyJ") else "an access token"
    if _URL_PASSWORD.search(text):
        return "a URL with a password"
    if _BEARER.search(text) or _AUTHORIZATION.search(text):
        return "a bearer credential"
    found = next((m for m in _ASSIGNMENT.finditer(text) if _masked_value(m) is not None), None)
    if found:
        return f"a {found.group('key').lstrip('-')} inside the text"
    return None


# -- JSON-like data -------------------------------------------------------------------------

_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)$")


def _mask_scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool) or is_secret_reference(value) or value == "":
        return value
    if isinstance(value, (str, int, float)):
        return REDACTED
    return _mask_all(value)


def _mask_all(value: Any) -> Any:
    """Every scalar under a secret-named container masked (secret references kept)."""
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return _mask_scalar(value)


def redact(value: Any) -> Any:
    """A deep copy of `value` (JSON-like: dicts, lists, scalars) with secrets replaced by `***`.

    Masked: values of secret-named keys, the `default`/`value` of a parameter whose `name`
    (or `key`) looks secret, the argument after a secret-named flag (`--password`, `xyz`), the
    `before`/`after` of a plan change whose `field` is a secret path, and the credential part
    of every string (`redact_text`). Secret references `{{secrets/scope/key}}` are kept.
    """
    if isinstance(value, dict):
        field = value.get("field")
        if isinstance(field, str) and ("before" in value or "after" in value) and is_secret_path(field):
            # a plan change of a secret field: {"field": "spark_env_vars.API_TOKEN", "before": ..., "after": ...}
            return {k: (_mask_all(v) if k in ("before", "after") else redact(v)) for k, v in value.items()}
        name = next((value[k] for k in ("name", "key") if isinstance(value.get(k), str)), None)
        secret_parameter = name is not None and _PARAMETER_NAME.match(name) is not None and is_secret_key(name)
        out = {}
        for key, item in value.items():
            if key in _LINE_MAPS:
                out[key] = item  # field path -> line number: the paths may look secret, the numbers are not
            elif isinstance(key, str) and (is_secret_key(key) or (secret_parameter and key in _PARAMETER_VALUE_KEYS)):
                out[key] = _mask_all(item)
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        out_list = []
        previous: Any = None
        for item in value:
            flag = _FLAG.match(previous) if isinstance(previous, str) else None
            if flag and is_secret_key(flag.group(1)) and isinstance(item, str) and not item.startswith("-"):
                out_list.append(_mask_scalar(item))
            else:
                out_list.append(redact(item))
            previous = item
        return out_list
    if isinstance(value, str):
        return redact_text(value)
    return value
