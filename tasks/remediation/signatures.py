"""Layer 2: a catalogue of Spark and Databricks error signatures.

Written from the documented error vocabulary, not fitted to any data set:

- Spark SQL / Delta error classes (``[TABLE_OR_VIEW_NOT_FOUND]``, ``[DELTA_CONCURRENT_APPEND]``),
  Databricks REST ``error_code`` values (``PERMISSION_DENIED``, ``RESOURCE_EXHAUSTED``) and
  cluster termination reason codes (``INIT_SCRIPT_FAILURE``, ``AZURE_QUOTA_EXCEEDED_EXCEPTION``):
  :data:`ERROR_CODES`;
- exception types and well-known message phrases of the JVM, Spark, Delta, Python, the cloud
  SDKs and HTTP: :data:`SIGNATURES`.

Where a signature fires matters as much as what it says. :func:`match` looks at the text in
zones: an error class or ``error_code`` field, the LAST ``Caused by:`` line (the root cause)
and the first line (the headline) weigh fully; any other prose line weighs
:data:`BODY_WEIGHT`; stack-frame lines (``at org.x.Y(Y.java:1)``, ``File "x.py", line 3``)
are never read by prose signatures, so a class name deep in a trace decides nothing.

Each hit scores ``confidence x zone weight``; :func:`match` returns every hit, best first.
Pure Python (``re``), cheap to import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BODY_WEIGHT = 0.93
"""Weight of a signature found on an ordinary prose line (not the headline, not the root cause)."""

BARE_CODE_WEIGHT = 0.97
"""Weight of an error code written bare (``PERMISSION_DENIED: ...``) rather than as ``[CODE]`` or
an ``"error_code"`` field."""


@dataclass(frozen=True)
class Signature:
    """One known error signature.

    ``category``: one of ``classify.CATEGORIES``. ``confidence`` (0..1): how surely the
    signature alone names the category. ``remediation``: set when the signature itself says
    what to do (e.g. a reset connection is RETRY while a refused one is NOTIFY_OWNER); None
    leaves it to the policy. ``new_params``: the hint for RETRY_WITH_NEW_PARAMS.
    ``raw``: match the raw text, stack frames included (for signatures about where a crash
    happened).
    """

    name: str
    pattern: re.Pattern[str]
    category: str
    confidence: float
    remediation: str | None = None
    new_params: str | None = None
    raw: bool = False


@dataclass(frozen=True)
class Hit:
    """A signature found in the text: the ``line`` it was found on and its ``score``
    (confidence x zone weight)."""

    signature: Signature
    line: str
    score: float


def _sig(name, pattern, category, confidence, remediation=None, new_params=None, raw=False, flags=re.I) -> Signature:
    return Signature(name, re.compile(pattern, flags), category, confidence, remediation, new_params, raw)


# --- error classes, REST error codes and cluster termination reasons ----------------------
# code -> (category, confidence, remediation or None, new_params or None)
ERROR_CODES: dict[str, tuple[str, float, str | None, str | None]] = {}


def _codes(category: str, confidence: float, names: str, remediation: str | None = None, new_params: str | None = None) -> None:
    for name in names.split():
        ERROR_CODES[name] = (category, confidence, remediation, new_params)


# Spark SQL analysis and parse errors
_codes("syntax_or_analysis", 0.97, """PARSE_SYNTAX_ERROR PARSE_EMPTY_STATEMENT UNRESOLVED_COLUMN UNRESOLVED_FIELD
    UNRESOLVED_ROUTINE UNRESOLVED_MAP_KEY UNRESOLVED_USING_COLUMN_FOR_JOIN AMBIGUOUS_REFERENCE
    AMBIGUOUS_COLUMN_OR_FIELD AMBIGUOUS_REFERENCE_TO_FIELDS DATATYPE_MISMATCH WRONG_NUM_ARGS
    MISSING_GROUP_BY MISSING_AGGREGATION GROUP_BY_AGGREGATE GROUP_BY_POS_OUT_OF_RANGE INVALID_IDENTIFIER
    UNBOUND_SQL_PARAMETER INVALID_SQL_SYNTAX COLUMN_ALREADY_EXISTS NON_LAST_MATCHED_CLAUSE_OMIT_CONDITION
    INVALID_EXTRACT_BASE_FIELD_TYPE UNRESOLVED_ALL_IN_GROUP_BY NOT_A_CONSTANT_STRING
    INVALID_USAGE_OF_STAR_OR_REGEX UNSUPPORTED_GENERATOR INVALID_WHERE_CONDITION""")
# objects that are not there
_codes("missing_data", 0.97, """TABLE_OR_VIEW_NOT_FOUND SCHEMA_NOT_FOUND CATALOG_NOT_FOUND PATH_NOT_FOUND
    VOLUME_NOT_FOUND DELTA_TABLE_NOT_FOUND DELTA_PATH_DOES_NOT_EXIST DELTA_MISSING_DELTA_TABLE
    DELTA_FILE_NOT_FOUND DELTA_FILE_NOT_FOUND_DETAILED DELTA_TABLE_NOT_FOUND_STREAMING NO_SUCH_CATALOG_EXCEPTION
    FILE_NOT_EXIST DELTA_NOT_A_DELTA_TABLE ROUTINE_NOT_FOUND VIEW_NOT_FOUND""")
_codes("missing_data", 0.88, "RESOURCE_DOES_NOT_EXIST INSTANCE_POOL_NOT_FOUND SPARK_IMAGE_NOT_FOUND")
_codes("missing_data", 0.7, "NOT_FOUND")
# permissions and identity
_codes("permission", 0.97, """INSUFFICIENT_PERMISSIONS PERMISSION_DENIED UNAUTHENTICATED UNAUTHORIZED_ACCESS
    AWS_AUTHORIZATION_FAILURE SECRET_PERMISSION_DENIED GCP_FORBIDDEN ACCESS_TOKEN_FAILURE
    AZURE_BYOK_KEY_PERMISSION_FAILURE IMAGE_PULL_PERMISSION_DENIED GCP_SERVICE_ACCOUNT_ACCESS_DENIED
    GCP_KMS_KEY_PERMISSION_DENIED UNAUTHORIZED_ERROR INVALID_CREDENTIALS AWS_INACCESSIBLE_KMS_KEY_FAILURE
    GCP_INACCESSIBLE_KMS_KEY_FAILURE GCP_DENIED_BY_ORG_POLICY""")
# Delta optimistic concurrency
_codes("concurrency_conflict", 0.97, """DELTA_CONCURRENT_APPEND DELTA_CONCURRENT_DELETE_READ
    DELTA_CONCURRENT_DELETE_DELETE DELTA_METADATA_CHANGED DELTA_PROTOCOL_CHANGED DELTA_CONCURRENT_TRANSACTION
    DELTA_CONCURRENT_WRITE DELTA_CONCURRENT_DELETE DELTA_CONCURRENT_UPDATE RESOURCE_CONFLICT
    CONCURRENT_STREAM_LOG_UPDATE""", "RETRY")
_codes("concurrency_conflict", 0.95, "MAX_CONCURRENT_RUNS_EXCEEDED MAXIMUM_CONCURRENT_RUNS_REACHED MAX_JOB_QUEUE_SIZE_EXCEEDED", "IGNORE")
# data and schema
_codes("data_quality_schema", 0.97, """DELTA_FAILED_TO_MERGE_FIELDS DELTA_SCHEMA_MISMATCH_DETECTED
    DELTA_NOT_NULL_CONSTRAINT_VIOLATED DELTA_VIOLATE_CONSTRAINT_WITH_VALUES DELTA_MERGE_INCOMPATIBLE_DATATYPE
    DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE CAST_INVALID_INPUT CAST_OVERFLOW
    NUMERIC_VALUE_OUT_OF_RANGE DIVIDE_BY_ZERO MALFORMED_RECORD_IN_PARSING CANNOT_PARSE_TIMESTAMP
    DATETIME_OVERFLOW INCOMPATIBLE_DATA_FOR_TABLE DELTA_SCHEMA_CHANGED DELTA_SCHEMA_CHANGED_WITH_VERSION
    DELTA_INVALID_CHARACTERS_IN_COLUMN_NAMES DELTA_COLUMN_MAPPING_MAX_COLUMN_ID_NOT_SET
    NULLABLE_COLUMN_OR_FIELD CHECK_CONSTRAINT_VIOLATION DELTA_FAILED_TO_MERGE_INCOMPATIBLE_TYPES
    DELTA_SCHEMA_MISMATCH""")
_codes("data_quality_schema", 0.93, "UNKNOWN_FIELD_EXCEPTION", "RETRY")  # Auto Loader: a restart adopts the new schema
# memory and disk
_codes("resource", 0.97, "DRIVER_OUT_OF_MEMORY UNABLE_TO_ACQUIRE_MEMORY", None, "driver_memory")
_codes("resource", 0.97, "DRIVER_OUT_OF_DISK EXECUTOR_OUT_OF_MEMORY SPARK_OUT_OF_MEMORY", None, "bigger_node")
# cloud capacity and quotas
_codes("cloud_capacity", 0.97, """AWS_INSUFFICIENT_INSTANCE_CAPACITY_FAILURE AZURE_QUOTA_EXCEEDED_EXCEPTION
    AWS_RESOURCE_QUOTA_EXCEEDED CLOUD_PROVIDER_LAUNCH_FAILURE CLOUD_PROVIDER_RESOURCE_STOCKOUT
    GCP_INSUFFICIENT_CAPACITY GCP_QUOTA_EXCEEDED GCP_RESOURCE_QUOTA_EXCEEDED INSTANCE_POOL_MAX_CAPACITY_REACHED
    AZURE_OPERATION_NOT_ALLOWED_EXCEPTION CLOUD_PROVIDER_INSTANCE_NOT_LAUNCHED INTERNAL_CAPACITY_FAILURE
    CLOUD_ACCOUNT_POD_QUOTA_EXCEEDED AZURE_PACKED_DEPLOYMENT_PARTIAL_FAILURE ADD_NODES_FAILED
    CLOUD_FAILURE CLOUD_PROVIDER_SHUTDOWN""", "RETRY")
_codes("cloud_capacity", 0.97, "SPOT_INSTANCE_TERMINATION AWS_MAX_SPOT_INSTANCE_COUNT_EXCEEDED_FAILURE",
       "RETRY_WITH_NEW_PARAMS", "on_demand")
_codes("cloud_capacity", 0.9, "SUBNET_EXHAUSTED_FAILURE IP_EXHAUSTION_FAILURE GCP_IP_SPACE_EXHAUSTED AWS_INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET_FAILURE",
       "NOTIFY_OWNER")
_codes("cloud_capacity", 0.9, "CLOUD_PROVIDER_LAUNCH_FAILURE_DUE_TO_MISCONFIG CLOUD_PROVIDER_RESOURCE_STOCKOUT_DUE_TO_MISCONFIG", "NOTIFY_OWNER")
# throttling
_codes("rate_limit", 0.97, """REQUEST_LIMIT_EXCEEDED RESOURCE_EXHAUSTED TOO_MANY_REQUESTS RATE_LIMITED
    REQUEST_THROTTLED AWS_REQUEST_LIMIT_EXCEEDED AZURE_RESOURCE_MANAGER_THROTTLING
    AZURE_RESOURCE_PROVIDER_THROTTLING GCP_API_RATE_QUOTA_EXCEEDED CLUSTER_OPERATION_THROTTLED
    CLUSTER_REQUEST_LIMIT_EXCEEDED WORKSPACE_RUN_LIMIT_EXCEEDED SPARK_IMAGE_DOWNLOAD_THROTTLED
    STORAGE_DOWNLOAD_FAILURE_THROTTLED""", "RETRY")
# time limits
_codes("timeout", 0.95, """DEADLINE_EXCEEDED CLUSTER_OPERATION_TIMEOUT ALLOCATION_TIMEOUT
    ALLOCATION_TIMEOUT_NO_HEALTHY_CLUSTERS ALLOCATION_TIMEOUT_NO_READY_CLUSTERS LAZY_ALLOCATION_TIMEOUT
    BOOTSTRAP_TIMEOUT""", "RETRY")
_codes("timeout", 0.95, "TIMEDOUT", "RETRY_WITH_NEW_PARAMS", "more_workers")
# network
_codes("network", 0.95, """DNS_RESOLUTION_ERROR NETWORK_CONFIGURATION_FAILURE BOOTSTRAP_TIMEOUT_DUE_TO_MISCONFIG
    CONTROL_PLANE_CONNECTION_FAILURE_DUE_TO_MISCONFIG INSTANCE_UNREACHABLE_DUE_TO_MISCONFIG
    NETWORK_CHECK_DNS_SERVER_FAILURE_DUE_TO_MISCONFIG NETWORK_CHECK_CONTROL_PLANE_FAILURE_DUE_TO_MISCONFIG
    NETWORK_CHECK_STORAGE_FAILURE_DUE_TO_MISCONFIG NETWORK_CHECK_NIC_FAILURE_DUE_TO_MISCONFIG
    NETWORK_CHECK_METADATA_ENDPOINT_FAILURE_DUE_TO_MISCONFIG AZURE_VNET_CONFIGURATION_FAILURE
    STORAGE_DOWNLOAD_FAILURE_DUE_TO_MISCONFIG""", "NOTIFY_OWNER")
_codes("network", 0.9, """COMMUNICATION_LOST INSTANCE_UNREACHABLE CONTROL_PLANE_CONNECTION_FAILURE
    NPIP_TUNNEL_SETUP_FAILURE NETWORK_CHECK_CONTROL_PLANE_FAILURE NETWORK_CHECK_DNS_SERVER_FAILURE
    NETWORK_CHECK_STORAGE_FAILURE HIVEMETASTORE_CONNECTIVITY_FAILURE MTLS_PORT_CONNECTIVITY_FAILURE""", "RETRY")
# libraries and environment
_codes("library_dependency", 0.97, """INIT_SCRIPT_FAILURE GLOBAL_INIT_SCRIPT_FAILURE LIBRARY_INSTALLATION_ERROR
    DRIVER_LIBRARY_INSTALLATION_FAILURE LIBRARY_INSTALLATION_FAILURE DOCKER_IMAGE_PULL_FAILURE
    DOCKER_INVALID_OS_EXCEPTION INVALID_SPARK_IMAGE PYTHON_ENVIRONMENT_SETUP_FAILURE""", "NOTIFY_OWNER")
# the platform itself
_codes("platform_internal", 0.9, """TEMPORARILY_UNAVAILABLE SERVICE_UNAVAILABLE DRIVER_UNREACHABLE
    DRIVER_UNRESPONSIVE DRIVER_UNEXPECTED_FAILURE DRIVER_UNHEALTHY DRIVER_NODE_UNREACHABLE DRIVER_EVICTION
    SPARK_STARTUP_FAILURE EXECUTION_COMPONENT_UNHEALTHY METASTORE_COMPONENT_UNHEALTHY
    DBFS_COMPONENT_UNHEALTHY UNEXPECTED_LAUNCH_FAILURE SELF_BOOTSTRAP_FAILURE WORKER_SETUP_FAILURE
    CONTAINER_LAUNCH_FAILURE DRIVER_LAUNCH_TIMEOUT SECURITY_DAEMON_REGISTRATION_EXCEPTION
    UNEXPECTED_POD_RECREATION SPARK_IMAGE_DOWNLOAD_FAILURE""", "RETRY")
_codes("platform_internal", 0.6, "INTERNAL_ERROR INTERNAL")
# requests the service refused as malformed: a configuration or code mistake
_codes("code_bug", 0.75, "INVALID_PARAMETER_VALUE MALFORMED_REQUEST INVALID_STATE INVALID_ARGUMENT INVALID_RUN_CONFIGURATION INVALID_CLUSTER_REQUEST BAD_REQUEST", "NOTIFY_OWNER")
_codes("code_bug", 0.45, "FEATURE_DISABLED", "NOTIFY_OWNER")

_CODE_BRACKET = re.compile(r"\[([A-Z][A-Z0-9_]{3,}(?:\.[A-Z0-9_]+)*)\]")
_CODE_FIELD = re.compile(r"""["']?(?:error_code|errorCode|code)["']?\s*[:=]\s*["']([A-Z][A-Z0-9_]{3,})["']""")
_CODE_BARE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")


# --- exception types and phrases ----------------------------------------------------------
SIGNATURES: list[Signature] = [
    # resource: memory, result size, disk
    _sig("jvm-oom-driver", r"OutOfMemoryError.*(driver|collect)|driver.*OutOfMemoryError", "resource", 0.95, None, "driver_memory"),
    _sig("jvm-oom", r"OutOfMemoryError|java heap space|GC overhead limit exceeded|SparkOutOfMemoryError", "resource", 0.95, None, "bigger_node"),
    _sig("task-oom", r"TaskOutOfMemory|task caught OutOfMemoryError|Requested array size exceeds VM limit", "resource", 0.95, None, "bigger_node"),
    _sig("yarn-memory", r"killed by YARN for exceeding memory limits|memoryOverhead|exceeding (physical|virtual) memory", "resource", 0.97, None, "bigger_node"),
    _sig("result-size", r"bigger than spark\.driver\.maxResultSize|Total size of serialized results", "resource", 0.97, None, "driver_memory"),
    _sig("no-disk", r"No space left on device|disk (is )?full|DiskSpaceExhausted|out of disk", "resource", 0.95, None, "bigger_node"),
    _sig("python-oom", r"\bMemoryError\b|Cannot allocate memory|\bOOMKilled\b|out of memory|insufficient memory|not enough memory", "resource", 0.9, None, "bigger_node"),
    _sig("killed-137", r"exit(ed)? (with )?(code|status) 137|OOMKilled|oom-kill|killed by the (kernel|OOM killer)|Out of memory: Kill(ed)? process", "resource", 0.85, None, "driver_memory"),
    _sig("kryo-buffer", r"Kryo.*Buffer overflow|kryoserializer\.buffer", "resource", 0.9, None, "bigger_node"),
    _sig("gc-heartbeat", r"heartbeat timed out|ExecutorLostFailure|exited caused by one of the running tasks", "resource", 0.65, None, "bigger_node"),
    _sig("shuffle-fetch", r"FetchFailedException|MetadataFetchFailedException|Missing an output location for shuffle", "resource", 0.7, None, "more_workers"),
    # timeouts
    _sig("run-time-limit", r"(run|job|task) .*(exceeded|reached) (its |the )?(maximum |configured )?(duration|timeout)|timeout_seconds", "timeout", 0.9, "RETRY_WITH_NEW_PARAMS", "more_workers"),
    _sig("still-running-timeout", r"time ?out.*still running|timed out after \d+:\d\d:\d\d", "timeout", 0.85, "RETRY_WITH_NEW_PARAMS", "more_workers"),
    _sig("deadline", r"context deadline exceeded|Client\.Timeout exceeded|deadline exceeded", "timeout", 0.93, "RETRY"),
    _sig("inactivity", r"timed out due to inactivity|idle timeout", "timeout", 0.9, "RETRY"),
    _sig("timeout-generic", r"TimeoutException|TimeoutError|\btimed out\b|\btime ?out\b", "timeout", 0.75),
    # network
    _sig("dns-transient", r"Temporary failure in name resolution|EAI_AGAIN", "network", 0.9, "RETRY"),
    _sig("dns", r"UnknownHostException|Name or service not known|nodename nor servname|getaddrinfo failed|Could not resolve host|NameResolutionError|no such host", "network", 0.95, "NOTIFY_OWNER"),
    _sig("refused", r"Connection refused|ConnectException|ECONNREFUSED", "network", 0.9, "NOTIFY_OWNER"),
    _sig("tls", r"SSLHandshakeException|PKIX path building failed|certificate verify failed|SSLError|unable to find valid certification path|secure connection .*SSL|handshake_failure|CERTIFICATE_VERIFY_FAILED", "network", 0.95, "NOTIFY_OWNER"),
    _sig("unreachable", r"No route to host|Network is unreachable|NoRouteToHostException", "network", 0.92, "NOTIFY_OWNER"),
    _sig("reset", r"Connection reset|Broken pipe|forcibly closed by the remote host|RemoteDisconnected|ConnectionResetError|Remote end closed connection|IncompleteRead|Connection aborted|connection (was )?closed|SocketException|EOFException|Premature EOF", "network", 0.88, "RETRY"),
    _sig("connect-timeout", r"ConnectTimeout(Error|Exception)?|connect timed out|Connection timed out|Connection timeout", "network", 0.88, "NOTIFY_OWNER"),
    _sig("conn-error", r"NewConnectionError|Failed to establish a new connection|ConnectionError|Failed to connect to|RpcTimeoutException|Could not find BlockManagerMaster|network error", "network", 0.8),
    # cloud capacity
    _sig("spot", r"spot (instance|capacity|price|request).*(terminat|reclaim|preempt|interrupt|lost|not (be )?fulfilled|unavailable)|(terminat|reclaim|preempt|interrupt)\w* .*spot", "cloud_capacity", 0.93, "RETRY_WITH_NEW_PARAMS", "on_demand"),
    _sig("insufficient-capacity", r"InsufficientInstanceCapacity|insufficient \S+ capacity|do not have sufficient \S+ capacity|InsufficientCapacity|ZONE_RESOURCE_POOL_EXHAUSTED|SkuNotAvailable|ZonalAllocationFailed|AllocationFailed|OverconstrainedAllocationRequest|stockout", "cloud_capacity", 0.95, "RETRY"),
    _sig("quota", r"QuotaExceeded|exceeding approved .*quota|quota (exceeded|limit)|VcpuLimitExceeded|InstanceLimitExceeded|cores quota", "cloud_capacity", 0.93, "RETRY"),
    _sig("launch-failure", r"Cloud Provider Launch Failure|cloud provider error was encountered|Failed to launch (instances|nodes)|not able to acquire (instances|nodes)", "cloud_capacity", 0.9, "RETRY"),
    # rate limits
    _sig("http-429", r"(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?429\b|\b429 Client Error|\(429\)|Too Many Requests|TooManyRequests", "rate_limit", 0.95, "RETRY"),
    _sig("s3-slowdown", r"Slow ?Down|reduce your request rate", "rate_limit", 0.97, "RETRY"),
    _sig("throttling", r"Throttl(ing|ed)|rate limit|Rate exceeded|RequestLimitExceeded|ServerBusy|request rate|too many (requests|concurrent)", "rate_limit", 0.93, "RETRY"),
    # permissions
    _sig("uc-privilege", r"User does not have [\w ]+ on|insufficient privileges|does not have (the )?(required )?(privilege|permission)", "permission", 0.97),
    _sig("py4j-security", r"Py4JSecurityException|is not whitelisted on class", "permission", 0.95),
    _sig("access-denied", r"Permission denied|AccessDenied(Exception)?|Access Denied|Access is denied|UnauthorizedAccessException|AuthorizationPermissionMismatch|AuthorizationFailure|This request is not authorized|not authorized to perform|Forbidden|(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?403\b|\b403 Client Error", "permission", 0.92),
    _sig("authn", r"(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?401\b|\b401 Client Error|Unauthori[sz]ed|Invalid access token|token (has )?expired|expired token|invalid_client|invalid_grant|AADSTS\d+|Invalid credentials|authentication failed|InvalidAccessKeyId|SignatureDoesNotMatch", "permission", 0.9),
    # syntax and analysis
    _sig("parse", r"ParseException|mismatched input|Syntax error at or near|extraneous input|no viable alternative", "syntax_or_analysis", 0.95),
    _sig("unresolved", r"cannot resolve '.*' given input columns|cannot be resolved|Column '.*' does not exist|Undefined function|cannot resolve column|is ambiguous, could be|Ambiguous reference", "syntax_or_analysis", 0.95),
    _sig("type-mismatch-analysis", r"cannot resolve .*due to data type mismatch", "syntax_or_analysis", 0.7),
    _sig("python-syntax", r"\bSyntaxError\b|IndentationError", "syntax_or_analysis", 0.9),
    _sig("analysis-generic", r"AnalysisException", "syntax_or_analysis", 0.5),
    # missing data
    _sig("table-missing", r"Table or view not found|NoSuchTableException|NoSuchDatabaseException|Database '.*' not found|Table .* (does not exist|not found)|is not a Delta table", "missing_data", 0.95),
    _sig("path-missing", r"Path does not exist|FileNotFoundException|No such file or directory|The specified (filesystem|container|blob|path|resource) does not exist|NoSuchKey|NoSuchBucket|\bdoes not exist\b", "missing_data", 0.88),
    _sig("secret-missing", r"Secret (scope|key)[\w' ]* does not exist|Secret does not exist", "missing_data", 0.93),
    _sig("http-404", r"(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?404\b|\b404 Client Error|Not Found", "missing_data", 0.7),
    # concurrency
    _sig("delta-conflict", r"ConcurrentAppendException|ConcurrentDeleteReadException|ConcurrentDeleteDeleteException|MetadataChangedException|ConcurrentTransactionException|ProtocolChangedException|ConcurrentWriteException", "concurrency_conflict", 0.97, "RETRY"),
    _sig("commit-conflict", r"concurrent update|Conflicting commit|CommitFailedException|Cannot commit|commit conflict|conflicting transaction", "concurrency_conflict", 0.9, "RETRY"),
    _sig("locks", r"LockException|Failed to acquire (a )?lock|lock wait timeout|deadlock|is being modified|already in progress|409 Conflict|\bResourceConflict\b", "concurrency_conflict", 0.8, "RETRY"),
    _sig("max-concurrent", r"maximum (number of )?concurrent runs|max_concurrent_runs|skipped because .*concurren", "concurrency_conflict", 0.93, "IGNORE"),
    # data quality and schema
    _sig("schema-mismatch", r"schema mismatch|mergeSchema|Failed to merge (fields|incompatible)|incompatible (schema|data types)|Detected schema change|schema has changed", "data_quality_schema", 0.95),
    _sig("constraint", r"InvariantViolationException|NOT NULL constraint violated|CHECK constraint .* violated|constraint violat|DeltaInvariantViolation|multiple source rows matched", "data_quality_schema", 0.95),
    _sig("bad-values", r"NumberFormatException|Malformed records?|corrupt record|cannot be converted|SchemaColumnConvertNotSupportedException|Unsupported encoding|invalid input syntax|could not convert|Invalid date|value out of range", "data_quality_schema", 0.85),
    # libraries
    _sig("py-import", r"ModuleNotFoundError|No module named|ImportError", "library_dependency", 0.95),
    _sig("jvm-classpath", r"ClassNotFoundException|NoClassDefFoundError|NoSuchMethodError|LinkageError|IncompatibleClassChangeError|AbstractMethodError|UnsatisfiedLinkError", "library_dependency", 0.88),
    _sig("library-install", r"Library installation (failed|attempted)|ManagedLibraryInstallFailed|library .*failed to install|failed to install librar", "library_dependency", 0.97),
    _sig("init-script", r"init script .*failed|init script failure|Init scripts? cannot|Script exit status is non-zero", "library_dependency", 0.97),
    _sig("pip", r"Could not find a version that satisfies|No matching distribution found|ResolutionImpossible|dependency conflict|version conflict|pip.*(exited with code|returned non-zero)|unresolved dependency|Could not resolve dependencies", "library_dependency", 0.93),
    # the platform
    _sig("internal-npe", r"NullPointerException\s*\n(\s*at .*\n){0,2}\s*at com\.databricks\.", "platform_internal", 0.9, "ESCALATE", raw=True),
    _sig("panic", r"\bpanic:|fatal error: runtime", "platform_internal", 0.85, "ESCALATE"),
    _sig("driver-restart", r"driver has stopped unexpectedly|driver is restarting|Failed to reach the driver|driver (is )?(temporarily )?(unavailable|unresponsive|unreachable)|Could not reach driver|Lost connection to (the )?driver", "platform_internal", 0.88, "RETRY"),
    _sig("python-worker", r"Python worker exited unexpectedly|Python worker crashed|worker crashed", "platform_internal", 0.78, "RETRY"),
    _sig("unavailable", r"temporarily unavailable|Service Unavailable|ServiceUnavailable|try again later|(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?50[234]\b|\b50[234] Server Error|Bad Gateway|Gateway Time-?out", "platform_internal", 0.85, "RETRY"),
    _sig("startup", r"Unexpected startup failure|unexpected error occurred while setting up the cluster|cluster initialization has failed|Spark failed to start|failed to start (the )?cluster", "platform_internal", 0.85, "RETRY"),
    _sig("internal-generic", r"InternalError|Internal error|Internal Server Error|(?:HTTP|status|code|error|response|failed with)\W{0,3}(?:code\W{0,3})?500\b|\b500 Server Error|unexpected error", "platform_internal", 0.6),
    # code bugs
    _sig("npe", r"NullPointerException", "code_bug", 0.85),
    _sig("py-code", r"\b(TypeError|ValueError|KeyError|AttributeError|IndexError|ZeroDivisionError|NameError|AssertionError|UnboundLocalError|RecursionError|NotImplementedError)\b", "code_bug", 0.8),
    _sig("jvm-code", r"IllegalArgumentException|IllegalStateException|UnsupportedOperationException|IndexOutOfBoundsException|ArithmeticException|ClassCastException|scala\.MatchError|StackOverflowError|NumberFormatException", "code_bug", 0.72),
    _sig("native-crash", r"SIGSEGV|SIGABRT|core dumped|exit code 134|Segmentation fault", "code_bug", 0.75),
    _sig("bad-request", r"Bad Request|Missing required field|Invalid parameter|is invalid|must be (set|specified)", "code_bug", 0.7, "NOTIFY_OWNER"),
    _sig("user-error", r"PythonException|Traceback \(most recent call last\)|exception in user code", "code_bug", 0.5),
]

_FRAME = re.compile(
    r"""^\s*(at\s+[\w$.<>/\[\]-]+\(|at\s+[\w$.]+\.[\w$<>]+\s*$|\.\.\.\s*\d+\s+(more|elided)|File\s+".*",\s+line\s+\d+|\d+\s*\|\s*#|-+>\s*\d+|\^+\s*$)""",
    re.I,
)
_CAUSED_BY = re.compile(r"^\s*Caused by:", re.I)


def is_frame(line: str) -> bool:
    """True for a stack-frame line (JVM ``at ...(...)``, Python ``File "...", line N``)."""
    return bool(_FRAME.match(line))


def zones(text: str) -> list[tuple[str, float]]:
    """The prose lines of ``text`` with their weights: the last ``Caused by:`` line and the first
    line 1.0, other prose lines :data:`BODY_WEIGHT`; frame lines and blank lines are dropped."""
    lines = [ln.strip() for ln in text.splitlines()]
    prose = [ln for ln in lines if ln and not is_frame(ln)]
    caused = [i for i, ln in enumerate(prose) if _CAUSED_BY.match(ln)]
    last_cause = caused[-1] if caused else None
    return [(ln, 1.0 if i in (0, last_cause) else BODY_WEIGHT) for i, ln in enumerate(prose)]


def _lookup_code(code: str):
    parts = code.split(".")
    for n in range(len(parts), 0, -1):
        found = ERROR_CODES.get(".".join(parts[:n]))
        if found:
            return found
    return None


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)].strip()


def match(text: str) -> list[Hit]:
    """Every signature and error code found in ``text`` (message plus trace), best score first.

    Returns an empty list when nothing is recognised. Never raises on any input string.
    """
    hits: list[Hit] = []
    seen_codes: set[str] = set()
    zoned = zones(text)
    prose_text = "\n".join(ln for ln, _ in zoned)
    for pattern, weight in ((_CODE_BRACKET, 1.0), (_CODE_FIELD, 1.0), (_CODE_BARE, BARE_CODE_WEIGHT)):
        for m in pattern.finditer(prose_text):
            code = m.group(1)
            found = _lookup_code(code)
            if not found or code in seen_codes:
                continue
            seen_codes.add(code)
            category, confidence, remediation, new_params = found
            sig = Signature(f"code:{code}", pattern, category, confidence, remediation, new_params)
            hits.append(Hit(sig, _line_of(prose_text, m.start()), confidence * weight))
    for sig in SIGNATURES:
        if sig.raw:
            m = sig.pattern.search(text)
            if m:
                hits.append(Hit(sig, _line_of(text, m.start()), sig.confidence))
            continue
        best: Hit | None = None
        for line, weight in zoned:
            if sig.pattern.search(line):
                hit = Hit(sig, line, sig.confidence * weight)
                if best is None or hit.score > best.score:
                    best = hit
        if best:
            hits.append(best)
    hits.sort(key=lambda h: -h.score)
    return hits
