"""The tech lead: reads a markdown requirements file and breaks it into task specs.

Public API (everything a caller needs; importing these does not import databricks.sdk,
litellm, chromadb, sentence-transformers or torch; `load_requirements` checks job field
names against a cached field tree of ``jobs.JobSettings`` and imports
``databricks.sdk.service.jobs`` only to build that cache, once per installed SDK version:
see `lead.sdk_fields`):

``from lead.requirements import load_requirements, RequirementsDoc``
    ``load_requirements(path: Path, *, text: str | None = None) -> RequirementsDoc``
    reads the file (or `text`, reported as `path`) and returns the document with its task
    specs. Raises ``lead.errors.RequirementsError`` (a ``ValueError``) for any problem in
    the file, ``OSError`` when it cannot be read.

``lead.errors.RequirementsError``
    attributes ``path`` (Path), ``line`` (1-based in the whole file, front matter included),
    ``field`` (dotted, e.g. ``resources.jobs.etl.tasks[0].notebook_task.notebook_pathh``;
    ``""`` for whole-file problems), ``message``; ``str(err)`` is one line,
    ``PATH:LINE: FIELD: MESSAGE``. Raised for: malformed front matter (YAML error, never
    closed, not a mapping), unknown front matter fields, a malformed owner e-mail, unknown
    ``defaults`` keys, invalid YAML in a block, an unclosed yaml fence, unknown block
    top-level fields, resource kinds other than jobs, unknown job (and nested: task, cluster,
    notebook_task, ...) fields and values of the wrong shape (a scalar where a list or
    mapping belongs, or the reverse) checked against the SDK's ``jobs.JobSettings`` dataclasses,
    undefined variables, unsupported ``${...}`` forms, references to other resource kinds
    (``${resources.pipelines.X.id}``) or to jobs not in the file, ``run_after_deploy`` keys
    that are not jobs, dependency cycles between jobs, duplicate job keys, relative paths
    without ``workspace_root``, an empty file and a file without jobs, control characters,
    explicit YAML tags that do not fit their value, integers beyond 64 bits, non-finite
    floats. Close names are suggested ("did you mean ...").

``lead.errors.LimitExceeded`` (a ``RequirementsError``, attribute ``limit``)
    a file past one of the limits of `lead.limits` that no real file meets: file size,
    YAML nodes (aliases expanded), nesting depth, substituted value and document size,
    variable nesting, number of jobs.

``RequirementsDoc`` (frozen dataclass)
    ``path, title, owner, profile, workspace_root, variables, tags, defaults,
    run_after_deploy, front_matter, content_sha256, task_specs, bundle, target, ignored``.

``lead.decompose.TaskSpec`` (frozen dataclass)
    ``key`` (``deploy_job:KEY`` | ``run_job:KEY``), ``type`` (``deploy_job`` | ``run_job``),
    ``title``, ``payload`` (JSON-serialisable dict), ``depends_on`` (spec keys),
    ``source_line``, ``source_field``. ``RequirementsDoc.task_specs`` is in topological
    order, dependencies first.

    deploy_job payload::

        {"job_key": KEY,
         "settings": {...},        # Jobs API JobSettings shape, after substitution, path
                                   # resolution, front matter defaults and tags
         "field_lines": {"tasks[0].notebook_task.notebook_path": 57, ...},
                                   # dotted path within settings -> line in the file;
                                   # fields merged from front matter defaults/tags point at
                                   # the front matter; a path not listed (e.g. inside a
                                   # complex ${var.X} value) takes its nearest listed parent
         "source": {"path": "examples/x.md", "line": 42},
         "owner": ..., "profile": ..., "workspace_root": ...}

    Left literal in ``settings`` for the worker: ``${resources.jobs.OTHER.id}`` (apply time,
    from the completed ``deploy_job:OTHER``, which this spec depends on) and
    ``${workspace.current_user.userName}`` / ``${workspace.current_user.short_name}``
    (run time).

    `lead submit` adds ``"deployment_key": "<bundle>/<target>/<job_key>"`` to each deploy_job
    payload (`lead.identity`): the deployment's identity and the job's ownership tag.

    Present only when non-empty: ``"artifacts": [{"field", "pattern", "local_path",
    "file_name", "sha256", "size", "workspace_path"}]`` (local library files the worker
    uploads to ``<workspace_root>/artifacts/<sha256[:16]>/<file>`` before create/update,
    `lead.artifacts`), and ``"written": {"references": [[path, text]], "variables": {...}}``
    (the ``${...}`` strings as the file wrote them, for `lead export`).

    run_job payload::

        {"job_key": KEY, "deploy_task": "deploy_job:KEY", "source": {"path": ..., "line": ...}}

Modules: `errors` (typed errors), `limits` (input limits), `yaml_lines` (YAML with line
numbers), `markdown` (front matter split and fenced blocks), `front_matter` (front matter fields), `job_blocks` (one
yaml block's jobs and variables), `substitution` (``${...}``), `job_schema` (field names
and shapes against the SDK), `sdk_fields` (the SDK's field tree and its cache),
`workspace_paths` (relative paths), `defaults` (front matter defaults and tags), `decompose`
(jobs -> task specs), `requirements` (the whole read), `identity` (bundle, target and
deployment keys), `artifacts` (local library files: build, resolve, hash), `export` (a
requirement back to a bundle directory), `run_control` (start, poll and cancel runs through
the pipeline), `mcp` (the MCP server and its tools), `cli` (``lead``) and its sub-command
modules `cli_*`.
"""
