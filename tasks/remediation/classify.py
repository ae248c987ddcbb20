"""Classify a failed Databricks/Spark run and choose its remediation.

    from tasks.remediation.classify import Classifier
    d = Classifier().classify("java.lang.OutOfMemoryError: Java heap space", termination_code="DRIVER_ERROR")
    d.category, d.remediation, d.new_params   # 'resource', 'RETRY_WITH_NEW_PARAMS', 'bigger_node'

Layers, cheapest first; a layer that is sure ends the search and is never overridden:

1. ``termination``: the Jobs API termination code / type and result state
   (:mod:`tasks.remediation.termination`);
2. ``signature``: the catalogue of error classes, exception types and phrases, read by zone so
   the error class and the last ``Caused by`` outweigh words in a trace
   (:mod:`tasks.remediation.signatures`); sure at a score of :data:`SURE_SCORE`;
3. ``neighbours``: the nearest labelled examples by MiniLM embedding (the shipped
   ``examples.jsonl`` plus the caller's ``extra_examples``), consulted only when 1 and 2 are
   unsure, and blended with their unsure candidates (:data:`NEIGHBOUR_WEIGHT`);
4. ``default``: nothing recognised: ``code_bug`` at :data:`DEFAULT_CONFIDENCE`, which escalates.

One exception to "sure is final": a caller's example whose message is the same error as the
input (equal :func:`~tasks.remediation.neighbours.correction_key`: same text up to numbers and
ids) is a person's ruling on exactly this message and wins over every layer (layer
``neighbours``, confidence :data:`CORRECTION_CONFIDENCE`). This needs no model.

The remediation is then chosen from the category *and* the evidence by
:func:`tasks.remediation.policy.decide` (ESCALATE below ``policy.ESCALATE_BELOW``).

Import cost: this module imports only the standard library and the pure-Python layer modules.
sentence-transformers is imported (about 12 s) the first time a message reaches layer 3;
``Classifier(use_neighbours=False)`` never imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.remediation import policy, signatures, termination
from tasks.remediation.neighbours import (
    Example,
    NeighbourIndex,
    correction_key,
    digest,
    examples_from_dicts,
    load_examples,
)

CATEGORIES: tuple[str, ...] = (
    "timeout",
    "resource",
    "permission",
    "syntax_or_analysis",
    "missing_data",
    "network",
    "cloud_capacity",
    "library_dependency",
    "concurrency_conflict",
    "rate_limit",
    "data_quality_schema",
    "code_bug",
    "platform_internal",
)
REMEDIATIONS: tuple[str, ...] = ("RETRY", "RETRY_WITH_NEW_PARAMS", "NOTIFY_OWNER", "ESCALATE", "IGNORE")
LAYERS: tuple[str, ...] = ("termination", "signature", "neighbours", "default", "llm")
NEW_PARAMS: tuple[str, ...] = ("bigger_node", "more_workers", "driver_memory", "on_demand")

SURE_SCORE = 0.85
"""A signature hit scoring at least this (confidence x zone weight) is sure: no later layer runs."""

AMBIGUITY_MARGIN = 0.03
"""A sure hit is not sure when a hit of another category scores within this margin of it."""

NEIGHBOURS_K = 3
"""How many nearest examples vote."""

MIN_SIMILARITY = 0.45
"""Examples less similar than this (cosine) do not vote (unrelated short messages score about 0.3-0.5)."""

FULL_SIMILARITY = 0.85
"""Similarity at which the nearest example of a category counts fully; between MIN_SIMILARITY
and this its category's score is scaled down linearly."""

EXTRA_WEIGHT = 1.25
"""Vote weight of a caller's example relative to a shipped one (a user's own labelled history
is closer to their jobs than generic examples)."""

NEIGHBOUR_WEIGHT = 1.0
"""Weight of the neighbours' score against the unsure rule candidates when blending."""

CORRECTION_CONFIDENCE = 0.99
"""Confidence of a decision taken from a caller's example for the very same error."""

DEFAULT_CONFIDENCE = 0.2
"""Confidence when nothing recognised the message (below ``policy.ESCALATE_BELOW``)."""

EVIDENCE_MAX_CHARS = 300


@dataclass(frozen=True)
class Diagnosis:
    """The classifier's answer for one failed run.

    ``category``: one of :data:`CATEGORIES`. ``remediation``: one of :data:`REMEDIATIONS`.
    ``confidence``: 0..1 in the category. ``evidence``: the input line that decided it (for the
    neighbours layer followed by ``~ nearest: <example>``; for a termination field,
    ``termination_code=X``). ``layer``: one of :data:`LAYERS` (``llm`` only from
    :mod:`tasks.remediation.llm_fallback`, never from :meth:`Classifier.classify`). ``priority``: ``critical`` |
    ``high`` | ``medium``. ``new_params``: for RETRY_WITH_NEW_PARAMS one of :data:`NEW_PARAMS`,
    else None.
    """

    category: str
    remediation: str
    confidence: float
    evidence: str
    layer: Literal["termination", "signature", "neighbours", "default", "llm"]
    priority: str
    new_params: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EVIDENCE_MAX_CHARS else text[: EVIDENCE_MAX_CHARS - 3] + "..."


def _key_line(text: str) -> str:
    """The most telling prose line when no signature names one: the last ``Caused by``, else the
    first line mentioning an error or exception, else the first line."""
    lines = [ln for ln, _ in signatures.zones(text)]
    if not lines:
        return text.strip()
    caused = [ln for ln in lines if ln.lower().startswith("caused by")]
    if caused:
        return caused[-1]
    for ln in lines:
        low = ln.lower()
        if "error" in low or "exception" in low or "failed" in low or "failure" in low:
            return ln
    return lines[0]


class Classifier:
    """Classifies failed runs; build once and reuse (the neighbours' vectors are computed once).

    Args:
        extra_examples: labelled examples to add to the shipped ones, e.g. user corrections:
            ``[{"message": str, "category": one of CATEGORIES, "remediation": one of
            REMEDIATIONS}, ...]`` (other keys ignored). Raises ``ValueError`` on a malformed one.
        use_neighbours: False skips layer 3 (no model is ever loaded); exact corrections
            from ``extra_examples`` still apply.
    """

    def __init__(self, extra_examples: list[dict] | None = None, use_neighbours: bool = True):
        self.extra: list[Example] = examples_from_dicts(extra_examples or [], CATEGORIES, REMEDIATIONS)
        self.use_neighbours = use_neighbours
        self._corrections = {correction_key(e.message): e for e in self.extra}
        self._index: NeighbourIndex | None = None

    @property
    def index(self) -> NeighbourIndex:
        """The neighbours' index (shipped plus extra examples), built on first use."""
        if self._index is None:
            self._index = NeighbourIndex(load_examples() + self.extra)
        return self._index

    def classify(
        self,
        message: str,
        trace: str | None = None,
        termination_code: str | None = None,
        termination_type: str | None = None,
        result_state: str | None = None,
    ) -> Diagnosis:
        """Diagnose one failed run.

        Args:
            message: the run's error message (state message, error, or log excerpt).
            trace: the error trace, if separate from the message.
            termination_code, termination_type, result_state: the Jobs API enum values as
                strings (``"CLOUD_FAILURE"``; ``"TerminationCodeCode.CLOUD_FAILURE"`` works too).

        Never raises for any string input; ``docs_index.embedding.ModelError`` only if the
        neighbours layer is needed and the model is missing or corrupt.
        """
        message = message if isinstance(message, str) else str(message or "")
        text = message if not trace else f"{message}\n{trace}"

        correction = self._corrections.get(correction_key(message, trace)) if self._corrections else None
        if correction is not None:
            remediation = correction.remediation
            params = policy.new_params_for(correction.category, text) if remediation == "RETRY_WITH_NEW_PARAMS" else None
            return Diagnosis(
                correction.category, remediation, CORRECTION_CONFIDENCE,
                _clip(f"{_key_line(text)} ~ correction: {correction.message}"), "neighbours",
                policy.priority_for(correction.category, remediation), params,
            )

        verdict = termination.read(termination_code, termination_type, result_state)
        hits = signatures.match(text)

        # Layer 1: a sure termination verdict.
        if verdict is not None and verdict.sure:
            category = verdict.category
            if category is None:  # it says what to do, not why: name the cause from the message
                category = hits[0].signature.category if hits else verdict.fallback_category or "platform_internal"
            same = next((h for h in hits if h.signature.category == category), None)
            stated = verdict.remediation or (same.signature.remediation if same else None)
            params = verdict.new_params or (same.signature.new_params if same else None)
            return self._diagnosis(category, verdict.confidence, verdict.evidence, "termination", text, stated, params)

        # Layer 2: a sure signature.
        if hits and self._sure(hits):
            top = hits[0]
            return self._diagnosis(top.signature.category, top.score, top.line, "signature", text,
                                   top.signature.remediation, top.signature.new_params)

        # Unsure candidates from layers 1 and 2: the best per category.
        rule: dict[str, float] = {}
        rule_hit: dict[str, signatures.Hit] = {}
        for h in hits:
            c = h.signature.category
            if h.score > rule.get(c, 0.0):
                rule[c], rule_hit[c] = h.score, h
        if verdict is not None and verdict.category and verdict.confidence > rule.get(verdict.category, 0.0):
            rule[verdict.category] = verdict.confidence
            rule_hit.pop(verdict.category, None)

        # Layer 3: the nearest labelled examples.
        near: dict[str, float] = {}
        votes: dict[str, dict[str, float]] = {}
        nearest: dict[str, tuple[Example, float]] = {}
        if self.use_neighbours and message.strip():
            near, votes, nearest = self._neighbours(digest(message, trace))

        categories = set(rule) | set(near)
        if not categories:
            return self._diagnosis("code_bug", DEFAULT_CONFIDENCE, _key_line(text), "default", text, None, None)
        blended = {c: rule.get(c, 0.0) + NEIGHBOUR_WEIGHT * near.get(c, 0.0) for c in categories}
        ranked = sorted(blended, key=blended.get, reverse=True)
        best = ranked[0]
        runner_up = blended[ranked[1]] if len(ranked) > 1 else 0.0
        confidence = blended[best] / (blended[best] + runner_up) * max(rule.get(best, 0.0), near.get(best, 0.0))
        hit = rule_hit.get(best)
        if near.get(best, 0.0) > rule.get(best, 0.0):
            ex, _ = nearest[best]
            line = hit.line if hit else _key_line(text)
            evidence = f"{line} ~ nearest: {ex.message}"
            layer = "neighbours"
        elif hit is not None:
            evidence, layer = hit.line, "signature"
        else:
            evidence, layer = verdict.evidence, "termination"
        stated = hit.signature.remediation if hit else (verdict.remediation if verdict and verdict.category == best else None)
        params = hit.signature.new_params if hit else (verdict.new_params if verdict and verdict.category == best else None)
        return self._diagnosis(best, confidence, evidence, layer, text, stated, params, votes.get(best))

    @staticmethod
    def _sure(hits: list[signatures.Hit]) -> bool:
        """The top hit is sure: at least SURE_SCORE, and no hit of another category within
        AMBIGUITY_MARGIN of it (a near-tie is left to the blend with the neighbours)."""
        top = hits[0]
        if top.score < SURE_SCORE:
            return False
        rival = next((h for h in hits[1:] if h.signature.category != top.signature.category), None)
        return rival is None or top.score - rival.score > AMBIGUITY_MARGIN

    def _neighbours(self, text: str):
        """Per category: score (0..1), remediation votes and the nearest example."""
        found = [(e, s) for e, s in self.index.query(text, NEIGHBOURS_K) if s >= MIN_SIMILARITY]
        if not found:
            return {}, {}, {}
        weight: dict[str, float] = {}
        top_sim: dict[str, float] = {}
        votes: dict[str, dict[str, float]] = {}
        nearest: dict[str, tuple[Example, float]] = {}
        for ex, sim in found:
            w = sim * (EXTRA_WEIGHT if ex.source == "extra" else 1.0)
            weight[ex.category] = weight.get(ex.category, 0.0) + w
            votes.setdefault(ex.category, {}).setdefault(ex.remediation, 0.0)
            votes[ex.category][ex.remediation] += w
            if sim > top_sim.get(ex.category, -1.0):
                top_sim[ex.category] = sim
                nearest[ex.category] = (ex, sim)
        total = sum(weight.values())
        # share of the vote, scaled by how close the closest example of that category is
        span = FULL_SIMILARITY - MIN_SIMILARITY
        scores = {c: (weight[c] / total) * min(1.0, (top_sim[c] - MIN_SIMILARITY) / span) for c in weight}
        return scores, votes, nearest

    @staticmethod
    def _diagnosis(category, confidence, evidence, layer, text, stated, params, votes=None) -> Diagnosis:
        confidence = round(max(0.0, min(1.0, confidence)), 3)
        prose = "\n".join(ln for ln, _ in signatures.zones(text)) or text
        remediation, new_params = policy.decide(category, prose, confidence, stated, params, votes)
        return Diagnosis(category, remediation, confidence, _clip(evidence), layer,
                         policy.priority_for(category, remediation), new_params)
