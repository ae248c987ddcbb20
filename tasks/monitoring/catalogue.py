"""The query catalogue: parameterised Databricks SQL over system tables, one module per domain.

A `Template` has a name, a domain, a one-line "answers" sentence, typed parameters with
defaults and bounds, the tables and columns it reads, its output columns in order, and the
SQL. Parameters travel only as statement parameters (`:name` markers with
`sql.StatementParameterListItem` name/value/type), never spliced into the text, so every
template runs unchanged on a real SQL warehouse through the Statement Execution API and on the
sandbox (DuckDB behind sqlglot).

Dates are `YYYY-MM-DD`. A date default is relative to today (UTC): `"today"`, `"today-30"`.
`bind(template, given)` turns strings (from the command line, a requirements file or the
router) into typed statement parameters, applying defaults and bounds, and raises
`TemplateParamError` naming the parameter.

Domains: cost, security, performance, reliability, quality, mlops (the router's names).
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

DOMAINS = ("cost", "security", "performance", "reliability", "quality", "mlops")
PARAM_TYPES = ("DATE", "INT", "DOUBLE", "STRING")
_DOMAIN_MODULES = {d: f"tasks.monitoring.{d}" for d in DOMAINS}
_RELATIVE = re.compile(r"^today(?:([+-])(\d{1,5}))?$")
_MAX_STRING = 1000


class TemplateParamError(ValueError):
    """A parameter that is unknown, of the wrong type or out of bounds. `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


class UnknownTemplate(LookupError):
    """No template has that name."""


@dataclass(frozen=True)
class Param:
    """One template parameter.

    `type`: DATE, INT, DOUBLE or STRING (the statement parameter type). `default`: a value,
    `"today"`/`"today-N"` for dates, or None for a required parameter (`required=True`) or an
    optional one that may stay NULL. `minimum`/`maximum` bound numbers (and DATE ranges are
    not bounded). `choices` restricts a STRING.
    """

    name: str
    type: str
    description: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    """One query of the catalogue (see the module docstring).

    `columns`: the output columns in order; `order`: how rows are sorted (documented order);
    `reads`: `system.schema.table(column, ...)` strings; `chart`: `{"x": column, "y": column}`
    for a time series worth a chart, else None; `totals`: numeric columns summed in reports.
    """

    name: str
    domain: str
    answers: str
    params: tuple[Param, ...]
    sql: str
    columns: tuple[str, ...]
    reads: tuple[str, ...]
    order: str = ""
    chart: dict[str, str] | None = None
    totals: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def param(self, name: str) -> Param:
        """The parameter `name`. Raises `TemplateParamError` if the template has none."""
        for p in self.params:
            if p.name == name:
                return p
        raise TemplateParamError(name, f"template {self.name} has no parameter {name!r} "
                                       f"(it has {', '.join(p.name for p in self.params) or 'none'})")


_REGISTRY: dict[str, Template] = {}
_loaded = False


def register(*templates: Template) -> None:
    """Add templates to the catalogue (domain modules call this at import).

    Raises:
        ValueError: a duplicate name, an unknown domain or parameter type, or a parameter
            marker in the SQL that is not a parameter (or the reverse).
    """
    for t in templates:
        if t.name in _REGISTRY:
            raise ValueError(f"template {t.name!r} is registered twice")
        if t.domain not in DOMAINS:
            raise ValueError(f"template {t.name!r}: unknown domain {t.domain!r}")
        markers = set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", t.sql))
        names = {p.name for p in t.params}
        if markers != names:
            raise ValueError(f"template {t.name!r}: SQL markers {sorted(markers)} != parameters {sorted(names)}")
        for p in t.params:
            if p.type not in PARAM_TYPES:
                raise ValueError(f"template {t.name!r}: parameter {p.name!r} has unknown type {p.type!r}")
        _REGISTRY[t.name] = t


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _DOMAIN_MODULES.values():
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name != module:
                    raise
        _loaded = True


def templates(domain: str | None = None) -> list[Template]:
    """Every template (of `domain`), by domain then name."""
    _load()
    return sorted((t for t in _REGISTRY.values() if domain is None or t.domain == domain), key=lambda t: (DOMAINS.index(t.domain), t.name))


def get(name: str) -> Template:
    """The template `name`.

    Raises:
        UnknownTemplate: no such template (the message suggests close names).
    """
    _load()
    if name in _REGISTRY:
        return _REGISTRY[name]
    import difflib

    close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
    raise UnknownTemplate(f"no template {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))


def _date(text: str, today: dt.date) -> str:
    match = _RELATIVE.match(text.strip().lower())
    if match:
        days = int(match.group(2) or 0) * (-1 if match.group(1) == "-" else 1)
        return (today + dt.timedelta(days=days)).isoformat()
    return dt.date.fromisoformat(text.strip()).isoformat()


def bind(template: Template, given: dict[str, Any], *, today: dt.date | None = None) -> list[dict[str, str | None]]:
    """Statement parameters `[{"name", "value", "type"}]` for `template` from `given`
    (strings or values), defaults applied, types and bounds checked.

    Raises:
        TemplateParamError: an unknown parameter, a missing required one, a value of the wrong
            type, out of bounds, or not one of the choices.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    names = {p.name for p in template.params}
    for name in given:
        if name not in names:
            template.param(name)  # raises with the list of parameters
    out = []
    for p in template.params:
        raw = given.get(p.name, p.default)
        if raw is None:
            if p.required:
                raise TemplateParamError(p.name, "is required")
            out.append({"name": p.name, "value": None, "type": p.type})
            continue
        text = str(raw)
        if p.type == "DATE":
            try:
                value = _date(text, today)
            except ValueError:
                raise TemplateParamError(p.name, f"{text!r} is not a date (YYYY-MM-DD, today, today-N)") from None
        elif p.type in ("INT", "DOUBLE"):
            try:
                number = int(text) if p.type == "INT" else float(text)
            except ValueError:
                raise TemplateParamError(p.name, f"{text!r} is not {'a whole number' if p.type == 'INT' else 'a number'}") from None
            if isinstance(number, float) and not math.isfinite(number):
                raise TemplateParamError(p.name, f"{text!r} is not a finite number")
            if p.minimum is not None and number < p.minimum or p.maximum is not None and number > p.maximum:
                raise TemplateParamError(p.name, f"{number} is out of bounds [{p.minimum}, {p.maximum}]")
            value = str(number)
        else:
            if len(text) > _MAX_STRING:
                raise TemplateParamError(p.name, f"is longer than {_MAX_STRING} characters")
            if p.choices and text not in p.choices:
                raise TemplateParamError(p.name, f"{text!r} is not one of {', '.join(p.choices)}")
            value = text
        out.append({"name": p.name, "value": value, "type": p.type})
    return out
