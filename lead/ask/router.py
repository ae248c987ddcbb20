"""Route a monitoring question to domains and catalogue templates, with parameters.

Two light signals, no model (``lead ask`` answers in well under a second; torch is never
imported):

1. **keywords**: an ordered table of regular expressions per domain (:data:`KEYWORDS`).
   Phrases that change a word's meaning come first and *consume* their span (``model
   performance`` is mlops, so ``performance`` is not counted again); a pattern may require or
   forbid a context (``drift`` is mlops next to a served model, data quality otherwise).
2. **neighbours**: TF-IDF cosine similarity (pure Python, word unigrams and bigrams, light
   stemming) against the labelled example questions in ``examples.txt`` (written for this
   project); each domain gets the similarity-weighted share of the top-k neighbours' labels.

A domain's score is ``w * keywords + (1 - w) * neighbours`` (both in 0..1). Every domain
scoring at least ``ratio * best`` and ``floor`` is routed, so "cost of the failed jobs"
yields cost and reliability. The weights (:data:`DEFAULT_WEIGHTS`) were chosen by k-fold over
the shared labelled questions (``bench/intent.py`` reports the cross-validated accuracy).

For each routed domain a template is chosen (template keywords, then the neighbours' template
labels, then the domain's default), its parameters extracted from the question
(:mod:`lead.ask.params`), and only the parameters that template takes are kept. When nothing
fits (no keyword and no close example), ``intents`` is empty and ``suggestions`` lists
example questions.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from lead.ask import params as P

DOMAINS = ("cost", "security", "performance", "reliability", "quality", "mlops")
EXAMPLES_PATH = Path(__file__).with_name("examples.txt")


@dataclass(frozen=True)
class Weights:
    """The router's tunable constants. `kw`: weight of the keyword score (the neighbours get
    ``1 - kw``); `ratio`: a domain is routed when its score is at least ``ratio`` times the
    best; `floor`: and at least this; `k`: neighbours; `kw_scale`: raw keyword weight that
    maps to about 0.63."""

    kw: float = 0.8
    ratio: float = 0.7
    floor: float = 0.1
    k: int = 3
    kw_scale: float = 2.5


DEFAULT_WEIGHTS = Weights()


@dataclass
class Route:
    """The router's answer for one question."""

    question: str
    intents: list[str]
    templates: list[dict[str, Any]]
    confidence: float
    suggestions: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    routed_by: str = "router"
    """``router``, or ``llm`` when :mod:`lead.ask.llm_route` replaced an unsure route."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON contract of ``lead ask --dry-run --json``:
        ``{"question", "intents", "templates", "confidence"}``, plus ``"routed_by": "llm"``
        when the model routed the question."""
        data = {"question": self.question, "intents": self.intents, "templates": self.templates,
                "confidence": self.confidence}
        if self.routed_by != "router":
            data["routed_by"] = self.routed_by
        return data


# --------------------------------------------------------------------------- keywords

_MLOPS_CONTEXT = r"\b(models?|serv(ed|ing)|endpoints?|inference|mlflow|experiments?|llms?|gen ?ai|ai gateway|training|fine-?tun\w*|agents?)\b"
_COST_CONTEXT = r"\b(cost\w*|spen[dt]\w*|dbus?|bill\w*|money|dollars?|price\w*|budget\w*)\b"


@dataclass(frozen=True)
class Kw:
    pattern: str
    weights: dict[str, float]
    requires: str | None = None
    unless: str | None = None


def _kw(pattern: str, requires: str | None = None, unless: str | None = None, **weights: float) -> Kw:
    return Kw(pattern, weights, requires, unless)


KEYWORDS: tuple[Kw, ...] = (
    # whole-platform questions
    _kw(r"\b(overall|whole|entire)\b.{0,30}\b(health|status|report)\b|\bhealth score\b|\ball (areas|domains)\b",
        cost=3, security=3, performance=3, reliability=3, quality=3, mlops=3),
    # phrases that change the meaning of the words inside them (consumed first)
    _kw(r"\bgenie( agents?| spaces?)?\b"),
    _kw(r"\b(models?|endpoints?|agents?|app|llms?)('s)?\b.{0,25}\b(performance|accuracy|quality\w*|regress\w*)\b", mlops=3),
    _kw(r"\b(performance|accuracy|quality)\b.{0,25}\b(models?|endpoints?|agents?)\b", mlops=3),
    _kw(r"\bdrift\b", requires=_MLOPS_CONTEXT, mlops=2.5),
    _kw(r"\blatenc\w*\b|\bp(50|90|95|99)\b|\bthroughput\b|\berror rates?\b|\bresponse times?\b|\bprofil\w*\b|\bmonitor\w*\b", requires=_MLOPS_CONTEXT, mlops=2),
    _kw(r"\bspen(d|t|ds|ding) (\w+ ){0,2}(time|hours|minutes)\b|\b(time|hours|minutes) (\w+ ){0,3}spen(d|t|ds|ding)\b"),
    _kw(r"\bfail\w* (\w+ )?expectations?\b", quality=2.5),
    _kw(r"\bexceed\w* .{0,30}\b(durations?|thresholds?|time ?outs?|limits?|runtimes?)\b", reliability=2, performance=2),
    _kw(r"\bwho (is |are |was )?(accessing|accessed|reads?|read|quer\w+|creat\w+|delet\w+|chang\w+|modif\w+|download\w+|grant\w+)\b|\busers? (who )?(quer\w+|access\w+|read)\b", security=2.5),
    _kw(r"\b(data )?drift\b", quality=2),
    _kw(r"\bfailed (log ?ins?|sign[- ]?ins?|auth\w*|actions?|login attempts?)\b|\b(log ?in|sign[- ]?in|authentication) (failures?|attempts?|errors?)\b|\bbrute[- ]force\b", security=3),
    _kw(r"\bpersonal access tokens?\b|\baccess tokens?\b|\bpats?\b", security=2.5),
    _kw(r"\btokens?\b", requires=_MLOPS_CONTEXT, mlops=2),
    _kw(r"\b(active users?|user activity|off[- ]hours|after[- ]hours|outside (of )?(business|working) hours)\b", security=2.5),
    _kw(r"\b(auto[- ]?termination|all[-_ ]purpose|interactive clusters?)\b", cost=2),
    _kw(r"\b(success rate|result states?|unsuccessful|internal_error)\b", reliability=2.5),
    _kw(r"\bstale\w*\b|\bfresh(ness)?\b|\bup[- ]to[- ]date\b|\bout[- ]of[- ]date\b|\blast (updated|refreshed|written)\b", quality=2.5),
    _kw(r"\bsensitive\b|\bpii\b|\bclassif\w+\b", quality=2),
    _kw(r"\blineage\b|\bupstream\b|\bdownstream\b|\bfeeds?\b|\bcomes? from\b|\buses this\b|\borphan\w*\b|\bnever read\b", quality=2.5),
    _kw(r"\b(data )?quality\b|\bexpectations?\b|\bnull\b|\bduplicates?\b|\bintegrity\b|\bcompleteness\b|\bschema (change|drift)\w*|\bfewer rows\b|\brow counts?\b|\bdistribution\b|\bprofil\w*\b|\bhealthy enough\b|\btrust the data\b",
        quality=2),
    _kw(r"\boriginat\w*\b|\bderived\b|\bprovenance\b|\bdepends? on\b|\bdependen\w*\b|\bempty\b|\bmissing values\b|\bconsisten\w*\b|\baccura(te|cy) of (the )?data\b", quality=2.0),
    _kw(r"\b(tables?|columns?|datasets?)\b", quality=0.6),
    # cost
    _kw(r"\bcost\w*\b|\bspen[dt]\w*\b|\bdbus?\b|\bbill(s|ed|ing)?\b|\bmoney\b|\bdollars?\b|\bbudgets?\b|\binvoice\w*\b|\bcharge ?back\b|\bshowback\b|\bexpensive\b|\bpric(e|es|ey|iest|ing)\b|\bsav(e|es|ings)\b|\bpay(ing)?\b|\bpaid\b|\bcredits?\b|\bskus?\b|\bburn\w*\b|\bcheap\w*\b|\bwast\w*\b",
        cost=2.5),
    _kw(r"\btag(s|ged|ging)?\b|\bforecast\w*\b|\bconsum\w*\b|\bbilling\b", cost=1.5),
    _kw(r"\busage\b", cost=0.7),
    # security
    _kw(r"\baudit\w*\b|\bpermissions?\b|\bprivilege\w*\b|\bgrant\w*\b|\brevok\w*\b|\bacls?\b|\badmins?\b|\bsuspicious\b|\bthreats?\b|\bexfiltrat\w*\b|\bcompliance\b|\brisk score\b|\bip (address\w*)?\b|\bsecrets?\b|\bdownload\w*\b|\bexport\w*\b|\binit scripts?\b|\bexternal locations?\b|\bdelta shar\w*|\bshares?\b|\bgroups?\b|\bmetastore\b|\blog ?ins?\b",
        security=2.5),
    _kw(r"\baccess\w*\b", security=1.5),
    _kw(r"\bwho\b", security=1.0),
    _kw(r"\b(users?|principals?)\b", security=0.7),
    _kw(r"\b[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+\b", security=1.5),
    _kw(r"\b(created|deleted|changed|modified|updated|dropped|configuration changes?|commands?)\b", security=0.8),
    _kw(r"\bactivity\b", security=0.7),
    # reliability
    _kw(r"\bfail\w*\b|\bsla\w*\b|\bdeadlines?\b|\bbreach\w*\b|\bincidents?\b|\boutages?\b|\bdowntime\b|\bretr(y|ies|ying)\b|\brepair\w*\b|\brerun\w*\b|\bcrash\w*\b|\btimed? ?out\b|\breliab\w*\b|\buptime\b|\bflaky\b|\bmttr\b|\brecover\w*\b|\bsuccess(ful\w*|es|ion rates?)?\b|\bsucceed\w*\b|\berror\w*\b|\bbroke\w*\b|\bcancel\w*\b",
        reliability=2.5),
    _kw(r"\bfinish\w* (before|by|on time|in time)\b|\bon time\b|\blate\b|\bslos?\b|\bstuck\b|\bhung\b", reliability=2.0),
    _kw(r"\bno recent runs\b|\bhaven'?t run\b|\bnot run\b|\bmissed\b", reliability=1.5),
    # performance (the word "performance" next to a model was consumed above)
    _kw(r"\bslow\w*\b|\blatenc\w*\b|\bdurations?\b|\bruntimes?\b|\brun time\b|\bhow long\b|\bqueue\w*\b|\bspill\w*\b|\butili[sz]\w*\b|\bcpu\b|\bmemory\b|\bautoscal\w*\b|\bscal(ing|ed|e up|e down)\b|\bupscal\w*\b|\bworkers?\b|\bidle\b|\bover-?provision\w*\b|\boversized\b|\bundersized\b|\bright-?siz\w*\b|\bdownsiz\w*\b|\bbottlenecks?\b|\bthroughput\b|\bdbr\b|\bruntime versions?\b|\bpercentiles?\b|\bp(50|90|95|99)\b|\bconcurren\w*\b|\bperformance\b|\bfaster\b|\bquery volume\b",
        performance=2.5),
    _kw(r"\b(ran|run|runs|running|take|takes|took|taking|last|lasted)\s+(for\s+)?(over|more than|longer than|at least|above)\s+\w+\s*(s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)\b", performance=2.0),
    _kw(r"\btak(e|es|ing) (so |too |very )?long\b|\bshuffle\w*\b|\bskew\w*\b|\bexecution times?\b|\bload times?\b|\boptimi[sz]\w*\b|\bpartition\w*\b|\bcach(e|ing)\b", performance=2.0),
    _kw(r"\bwarehouses?\b", performance=1.0),
    _kw(r"\bclusters?\b|\bqueries\b|\bquery\b", performance=0.5),
    # mlops
    _kw(r"\bmodels?\b|\bserv(ed|ing)\b|\bendpoints?\b|\binference\b|\bmlflow\b|\bexperiments?\b|\btraining\b|\bfine-?tun\w*\b|\bllms?\b|\bgen ?ai\b|\bai gateway\b|\bfoundation models?\b|\bvector search\b|\bfeature (store|tables?)\b|\bgpus?\b",
        mlops=2.5),
    _kw(r"\bpredict(ions?|ed)?\b|\bloss\b|\baliases\b|\balias\b|\bregistered\b|\bevaluation\b|\bembeddings?\b|\bhyperparameters?\b|\bfeatures?\b|\bretrain\w*\b", mlops=2.0),
    _kw(r"\bagents?\b|\bchatbot\b|\brequests?\b|\baccuracy\b", mlops=1.0),
)

_COMPILED = [(re.compile(k.pattern), k, re.compile(k.requires) if k.requires else None, re.compile(k.unless) if k.unless else None)
             for k in KEYWORDS]


def keyword_scores(question: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Raw keyword weight per domain and the matched words (evidence)."""
    text = question.lower()
    raw = {d: 0.0 for d in DOMAINS}
    evidence: dict[str, list[str]] = {d: [] for d in DOMAINS}
    for regex, kw, requires, unless in _COMPILED:
        if requires and not requires.search(text) or unless and unless.search(text):
            continue
        hits = list(regex.finditer(text))
        if not hits:
            continue
        for d, w in kw.weights.items():
            raw[d] += w * min(len(hits), 2) ** 0.5
            evidence[d].extend(h.group(0) for h in hits)
        for h in reversed(hits):
            text = text[: h.start()] + " " * (h.end() - h.start()) + text[h.end():]
    return raw, evidence


# --------------------------------------------------------------------------- neighbours

_STOP = frozenset(
    "a an the of to in on for by and or is are was were be been do does did what which who whom whose how why when where "
    "that this these those it its our my we us i me you your there their them they any all each with from as at than then "
    "have has had can could would should will show me list give tell get much many most more some over last past".split())


def _stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def tokens(text: str) -> list[str]:
    """Stemmed content words plus adjacent-word bigrams."""
    words = [_stem(w) for w in re.findall(r"[a-z][a-z0-9]+", text.lower()) if w not in _STOP]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class Example:
    question: str
    intents: tuple[str, ...]
    template: str | None


def load_examples(path: Path = EXAMPLES_PATH) -> list[Example]:
    """The labelled examples: ``domains | template | question`` lines (``#`` comments)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected 'domains | template | question'")
        intents = tuple(d.strip() for d in parts[0].split(","))
        bad = [d for d in intents if d not in DOMAINS]
        if bad:
            raise ValueError(f"{path}:{number}: unknown domain {bad[0]!r}")
        out.append(Example(parts[2], intents, None if parts[1] == "-" else parts[1]))
    return out


class Index:
    """TF-IDF vectors (log tf, smoothed idf, L2-normalised) of example questions."""

    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples
        docs = [Counter(tokens(e.question)) for e in examples]
        df = Counter(t for d in docs for t in d)
        n = len(docs)
        self.idf = {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}
        self.vectors = [self._vector(d) for d in docs]

    def _vector(self, counts: Counter) -> dict[str, float]:
        v = {t: (1 + math.log(c)) * self.idf[t] for t, c in counts.items() if t in self.idf}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    def nearest(self, question: str, k: int) -> list[tuple[float, Example]]:
        q = self._vector(Counter(tokens(question)))
        sims = []
        for vec, ex in zip(self.vectors, self.examples):
            s = sum(w * vec.get(t, 0.0) for t, w in q.items())
            if s > 0:
                sims.append((s, ex))
        sims.sort(key=lambda x: -x[0])
        return sims[:k]


@lru_cache(maxsize=1)
def default_index() -> Index:
    return Index(load_examples())


def neighbour_scores(neighbours: list[tuple[float, Example]]) -> dict[str, float]:
    """Similarity-weighted share of the neighbours' labels per domain (0..1)."""
    total = sum(s for s, _ in neighbours)
    out = {d: 0.0 for d in DOMAINS}
    if total <= 0:
        return out
    for s, ex in neighbours:
        for d in ex.intents:
            out[d] += s / total
    return out


# --------------------------------------------------------------------------- templates

# name -> (domain, {parameter: (type, description)}): the catalogue as the router knows it,
# used when the catalogue's domain modules do not register that template (yet).
KNOWN_TEMPLATES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "top_cost_contributors": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", ""), "top_n": ("INT", "")}),
    "cost_trend_by_sku": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", ""), "sku_name": ("STRING", "")}),
    "budget_variance": ("cost", {"budget": ("DOUBLE", ""), "start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "spend_by_day_and_sku": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "cost_anomalies": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "spend_by_tag": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "untagged_spend": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "most_expensive_runs": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", ""), "top_n": ("INT", "")}),
    "failed_run_cost": ("cost", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "failed_jobs": ("reliability", {"start_date": ("DATE", ""), "end_date": ("DATE", ""), "workspace_id": ("STRING", "")}),
    "job_sla_compliance": ("reliability", {"sla_minutes": ("INT", "minutes"), "start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "job_failure_rate": ("reliability", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "repairs_and_time_to_repair": ("reliability", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "slow_queries": ("performance", {"min_duration": ("INT", "seconds"), "start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "job_duration_trends": ("performance", {"job_name": ("STRING", ""), "days_back": ("INT", "")}),
    "job_duration_outliers": ("performance", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "jobs_on_all_purpose_clusters": ("performance", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "idle_or_oversized_clusters": ("performance", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "access_anomalies": ("security", {"start_date": ("DATE", ""), "end_date": ("DATE", ""), "threshold": ("INT", "")}),
    "user_activity_summary": ("security", {"user_email": ("STRING", ""), "days_back": ("INT", "")}),
    "permission_changes": ("security", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "failed_logins": ("security", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "new_source_ips": ("security", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "table_lineage": ("quality", {}),
    "column_lineage": ("quality", {}),
    "data_freshness": ("quality", {}),
    "serving_endpoint_usage": ("mlops", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "serving_latency": ("mlops", {"start_date": ("DATE", ""), "end_date": ("DATE", "")}),
    "mlflow_experiments": ("mlops", {}),
    "mlflow_runs": ("mlops", {}),
}

DEFAULT_TEMPLATE = {
    "cost": "top_cost_contributors", "security": "access_anomalies", "performance": "idle_or_oversized_clusters",
    "reliability": "failed_jobs", "quality": "data_freshness", "mlops": "serving_endpoint_usage",
}

# When a chosen template's required parameter is not in the question: the broader template to run instead.
REQUIRED_FALLBACK: dict[str, str] = {
    "user_activity_summary": "access_anomalies",
    "table_lineage": "data_freshness",
    "column_lineage": "data_freshness",
    "budget_variance": "cost_trend_by_sku",
}


def _missing_required(name: str, parameters: dict[str, Any]) -> bool:
    """True when the catalogue's template `name` has a required parameter not in `parameters`."""
    try:
        from tasks.monitoring.catalogue import get

        template = get(name)
    except Exception:  # noqa: BLE001 - no catalogue (or no such template): nothing to check
        return False
    return any(p.required and parameters.get(p.name) is None for p in template.params)


# Templates that answer more than their own domain: routed intents covered together.
SERVES: dict[str, tuple[str, ...]] = {
    "failed_run_cost": ("cost", "reliability"),
    "jobs_on_all_purpose_clusters": ("performance", "cost"),
    "idle_or_oversized_clusters": ("performance", "cost"),
}

# Words that pick a template inside a domain (checked before the neighbours' votes).
TEMPLATE_KEYWORDS: dict[str, str] = {
    "top_cost_contributors": r"\btop\b|\bbiggest\b|\blargest\b|\bmost expensive\b|\bcontribut\w*\b|\bhighest\b|\brank\w*\b|\bwho\b|\bdrive\b|\beach (user|workspace|cluster|warehouse|team|project)\b",
    "failed_run_cost": r"\b(fail\w*|retr(y|ies)|crash\w*|error\w*|broken|repair\w*)\b",
    "budget_variance": r"\bbudget\w*\b|\bforecast\w*\b|\bburn rate\b|\bover (the )?plan\w*\b",
    "untagged_spend": r"\buntagged\b|\bwithout (any )?tags?\b|\bno \w+ tags?\b|\bmissing (the )?[\w-]* ?tags?\b|\bpercentage of .* tagged\b|\battribut\w*\b",
    "spend_by_tag": r"\btag(s|ged)?\b|\bcost cent(er|re)\b|\bcharge ?back\b|\bshowback\b|\bbusiness units?\b|\bteams?\b",
    "cost_anomalies": r"\bspike\w*\b|\bjump\w*\b|\bsurge\w*\b|\banomal\w*\b|\bunusual\b|\bsudden\w*\b|\bwhy did\b|\bwent up\b|\bexplain\b",
    "most_expensive_runs": r"\b(job|pipeline|notebook)?\s*runs?\b.{0,30}\b(expensive|cost\w*|pricie?st)\b|\b(expensive|costliest|priciest)\b.{0,20}\b(runs?|executions?)\b",
    "spend_by_day_and_sku": r"\bby (date|day)\b.{0,30}\bsku\b|\bsku\b.{0,30}\b(per|by|each) (date|day)\b|\bper day\b|\bdaily\b|\beach day\b|\bprice change\b|\blist prices?\b",
    "cost_trend_by_sku": r"\btrend\w*\b|\bgrow\w*\b|\bover time\b|\bmonth over month\b|\bweek over week\b|\bevolv\w*\b|\bcompare\w*\b|\bforecast\b",
    "failed_logins": r"\b(log ?ins?|sign[- ]?ins?|authenticat\w*|brute[- ]force|credentials?|denied)\b",
    "new_source_ips": r"\bip\b|\bip address\w*\b|\bcountr(y|ies)\b|\blocations?\b(?! (were )?created)",
    "permission_changes": r"\bpermission\w*\b|\bgrant\w*\b|\brevok\w*\b|\bacls?\b|\badmins?\b|\bprivilege\w*\b|\bownership\b|\bgroups?\b|\b(created|deleted|changed|modified|updated|dropped)\b|\bconfiguration\b|\btokens?\b|\binit scripts?\b",
    "access_anomalies": r"\bsuspicious\b|\banomal\w*\b|\bunusual\b|\bthreats?\b|\bexfiltrat\w*\b|\brisk\b|\boff[- ]hours\b|\bafter[- ]hours\b|\boutside\b",
    "user_activity_summary": r"@|\bactivity\b|\bactive users?\b|\bwho (read|accessed|queried|is accessing)\b|\bdownload\w*\b",
    "job_sla_compliance": r"\bsla\w*\b|\bdeadlines?\b|\bbreach\w*\b|\bthreshold\b|\btimed? ?out\b|\bexceed\w*\b|\bwithin\b",
    "repairs_and_time_to_repair": r"\brepair\w*\b|\brerun\w*\b|\bretr(y|ies|ying)\b|\brecover\w*\b|\bmttr\b",
    "job_failure_rate": r"\brate\b|\bpercent\w*\b|\bhow many\b|\bmost often\b|\bflaky\b|\blikely\b|\bshare of\b|\bresult states?\b",
    "failed_jobs": r"\bfail\w*\b|\berror\w*\b|\bcrash\w*\b",
    "slow_queries": r"\bquer(y|ies)\b|\bstatements?\b|\bqueue\w*\b|\bspill\w*\b",
    "job_duration_outliers": r"\boutliers?\b|\bbaseline\b|\bthan usual\b|\babnormal\w*\b|\bexceed\w*\b",
    "job_duration_trends": r"\btrend\w*\b|\bover time\b|\bgetting slower\b|\bpercentiles?\b|\bdurations?\b|\bruntime of\b",
    "jobs_on_all_purpose_clusters": r"\ball[-_ ]purpose\b|\binteractive\b|\bjobs? clusters?\b",
    "idle_or_oversized_clusters": r"\bidle\b|\bover-?provision\w*\b|\boversized\b|\butili[sz]\w*\b|\bcpu\b|\bmemory\b|\bautoscal\w*\b|\bworkers?\b|\bdownsiz\w*\b|\bright-?siz\w*\b|\bauto[- ]?termination\b",
    "column_lineage": r"\bcolumns?\b",
    "table_lineage": r"\blineage\b|\bupstream\b|\bdownstream\b|\bfeeds?\b|\bcomes? from\b|\borphan\w*\b|\bnever read\b|\bsensitive\b|\bpii\b",
    "data_freshness": r"\bstale\w*\b|\bfresh\w*\b|\bup[- ]to[- ]date\b|\bout of date\b|\brefresh\w*\b|\bfewer rows\b",
    "serving_latency": r"\blatenc\w*\b|\bp(50|90|95|99)\b|\berror rate\b|\berrors?\b|\bresponse time\b|\bdrift\b|\bperformance\b|\bquality\b",
    "serving_endpoint_usage": r"\bendpoints?\b|\bserv(ed|ing)\b|\btokens?\b|\brequests?\b|\bgateway\b",
    "mlflow_runs": r"\bruns?\b|\btraining\b|\bmetrics?\b|\bmodel versions?\b|\bregister\w*\b",
    "mlflow_experiments": r"\bexperiments?\b",
}
_TEMPLATE_RE = {name: re.compile(p) for name, p in TEMPLATE_KEYWORDS.items()}


def template_spec(name: str) -> dict[str, tuple[str, str]]:
    """``{parameter: (type, description)}`` of template `name`: from the catalogue when it
    registers that template, else from :data:`KNOWN_TEMPLATES`."""
    registered = _catalogue().get(name)
    if registered is not None:
        return {p.name: (p.type, p.description) for p in registered.params}
    return KNOWN_TEMPLATES.get(name, ("", {}))[1]


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    try:
        from tasks.monitoring import catalogue

        return {t.name: t for t in catalogue.templates()}
    except Exception:  # noqa: BLE001 - the router still routes with its own table
        return {}


def _domain_of(name: str) -> str | None:
    registered = _catalogue().get(name)
    if registered is not None:
        return registered.domain
    return KNOWN_TEMPLATES.get(name, (None,))[0]


def _candidates(domain: str) -> list[str]:
    names = {n for n, (d, _) in KNOWN_TEMPLATES.items() if d == domain}
    names |= {n for n, t in _catalogue().items() if t.domain == domain}
    names |= {n for n, serves in SERVES.items() if domain in serves}
    return sorted(names)


def choose_templates(question: str, intents: list[str], neighbours: list[tuple[float, Example]]) -> list[str]:
    """One template per routed domain, in the order of `intents`. A template that serves
    several routed domains (:data:`SERVES`) and whose words are in the question covers them
    all; inside a domain, its template words vote 1, each neighbour of that domain votes
    ``0.5 * similarity`` for its template; a template borrowed from another domain needs its
    words; no vote: the domain's default."""
    text = question.lower()
    chosen: list[str] = []
    covered: set[str] = set()
    for name, serves in SERVES.items():
        if name in KNOWN_TEMPLATES and _domain_of(name) in intents and all(d in intents for d in serves) \
                and _TEMPLATE_RE[name].search(text) and name == "failed_run_cost":
            chosen.append(name)
            covered.update(serves)
    for domain in intents:
        if domain in covered:
            continue
        own = [n for n in _candidates(domain) if _domain_of(n) == domain and n not in SERVES or n in SERVES and _domain_of(n) == domain]
        borrowed = [n for n in _candidates(domain) if n not in own]
        votes: Counter = Counter()
        for name in own + borrowed:
            regex = _TEMPLATE_RE.get(name)
            if regex and regex.search(text) and name != "failed_run_cost":
                votes[name] += 1.0
        for sim, ex in neighbours:
            if ex.template in own and domain in ex.intents and ex.template != "failed_run_cost":
                votes[ex.template] += 0.5 * sim
        ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0] in borrowed, kv[0]))
        name = ranked[0][0] if ranked else DEFAULT_TEMPLATE[domain]
        if name not in chosen:
            chosen.append(name)
        covered.add(domain)
    return chosen


# --------------------------------------------------------------------------- routing

SUGGESTIONS = (
    "Which jobs failed in the last 24 hours?",
    "What are our top 5 cost contributors this month?",
    "Which SQL queries ran longer than 10 minutes yesterday?",
    "Were there any failed logins or permission changes this week?",
    "Which tables are stale?",
    "What is the p95 latency of my model serving endpoints?",
)


def score(question: str, weights: Weights = DEFAULT_WEIGHTS, index: Index | None = None) -> tuple[dict[str, float], dict[str, float], list[tuple[float, Example]], dict[str, list[str]]]:
    """Per-domain combined scores, raw keyword weights, the neighbours, the evidence."""
    index = index or default_index()
    raw, evidence = keyword_scores(question)
    neighbours = index.nearest(question, weights.k)
    knn = neighbour_scores(neighbours)
    kw = {d: 1 - math.exp(-raw[d] / weights.kw_scale) for d in DOMAINS}
    combined = {d: weights.kw * kw[d] + (1 - weights.kw) * knn[d] for d in DOMAINS}
    return combined, raw, neighbours, evidence


MIN_KEYWORD = 1.0
"""Below this raw keyword weight (one weak word such as "table") and ..."""
MIN_SIMILARITY = 0.5
"""... below this similarity to the closest example, nothing fits (unless both reach half)."""


def select(combined: dict[str, float], raw: dict[str, float], neighbours: list[tuple[float, Example]], weights: Weights = DEFAULT_WEIGHTS) -> list[str]:
    """The routed domains, best first (empty when nothing fits)."""
    best_sim = neighbours[0][0] if neighbours else 0.0
    strongest = max(raw.values())
    if strongest < MIN_KEYWORD and best_sim < MIN_SIMILARITY and not (strongest >= MIN_KEYWORD / 2 and best_sim >= MIN_SIMILARITY / 2):
        return []
    top = max(combined.values())
    if top < weights.floor:
        return []
    picked = [d for d in DOMAINS if combined[d] >= max(weights.ratio * top, weights.floor)]
    return sorted(picked, key=lambda d: -combined[d])


def route(question: str, *, today: dt.date | None = None, weights: Weights = DEFAULT_WEIGHTS, index: Index | None = None) -> Route:
    """Route `question`: domains, templates with parameters, confidence, suggestions.

    `today` anchors relative time phrases (default: today, UTC). The question is only ever
    scanned as text; extracted parameters are typed values for statement parameters.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    question = question if isinstance(question, str) else str(question)
    text = question[:4000]
    combined, raw, neighbours, evidence = score(text, weights, index)
    intents = select(combined, raw, neighbours, weights)
    if not intents:
        near = [ex.question for s, ex in neighbours[:3] if s > 0.05]
        return Route(question, [], [], 0.0, suggestions=near + [s for s in SUGGESTIONS if s not in near][: 6 - len(near)],
                     scores=combined, evidence={})
    found = P.extract(text, today)
    templates = []
    for name in choose_templates(text, intents, neighbours):
        parameters = P.for_template(found, template_spec(name))
        if _missing_required(name, parameters):
            # A template that needs what the question does not say (a user, a table, a budget)
            # gives way to its domain's broader one rather than failing when run.
            name = REQUIRED_FALLBACK.get(name, DEFAULT_TEMPLATE[_domain_of(name) or intents[0]])
            parameters = P.for_template(found, template_spec(name))
        if all(t["name"] != name for t in templates):
            templates.append({"name": name, "parameters": parameters})
    top = combined[intents[0]]
    runner_up = max([combined[d] for d in DOMAINS if d not in intents] or [0.0])
    confidence = round(max(0.0, min(1.0, 0.5 * top + 0.5 * (top - runner_up) / (top or 1.0))), 3)
    return Route(question, intents, templates, confidence, scores=combined,
                 evidence={d: evidence[d] for d in intents})


Scorer = Callable[[str], list[str]]
