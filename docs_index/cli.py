"""The ``docs-index`` command: build, search and describe the documentation index.

``docs-index build [--source sdk] [--source DIR ...]`` builds or updates the index (progress
bar, then a summary: files, chunks, embedded, skipped, removed, seconds);
``docs-index search "QUESTION" [-k 5] [--json]`` prints the best passages;
``docs-index stats`` describes the index. ``--index-dir`` overrides the default
``.job-agent/docs-index`` (or ``$JOB_AGENT_HOME/docs-index``).

Exit codes: 0 ok, 1 user error (bad source, no index, bad arguments), 2 internal error.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="Build and search the Databricks documentation index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UserError(Exception):
    """A problem the user can fix (reported without a traceback, exit code 1)."""


IndexDirOpt = typer.Option(None, "--index-dir", help="Index directory (default .job-agent/docs-index).")


@app.command()
def build(
    source: Optional[list[str]] = typer.Option(
        None, "--source", "-s",
        help="'sdk' (the installed databricks-sdk), 'sdk:jobs,compute', or a directory of "
        ".md/.mdx/.rst/.txt files. Repeatable. Default: the previous build's sources, else sdk.",
    ),
    index_dir: Optional[Path] = IndexDirOpt,
    model: Optional[Path] = typer.Option(None, "--model", help="A local sentence-transformers model directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Build or update the index; only new or changed chunks are embedded."""
    from docs_index.embedding import ModelError
    from docs_index.sources import SourceError
    from docs_index.store import build_index

    bar = {"bar": None, "done": 0}

    def progress(done: int, total: int) -> None:
        if total == 0:
            return
        if bar["bar"] is None:
            bar["bar"] = typer.progressbar(length=total, label="embedding", file=sys.stderr)
            bar["bar"].__enter__()
        bar["bar"].update(done - bar["done"])
        bar["done"] = done

    try:
        summary = build_index(source or None, index_dir, model_path=model, progress=progress)
    except SourceError as e:
        raise UserError(str(e)) from e
    except ModelError as e:
        if model is not None:
            raise UserError(str(e)) from e
        raise
    finally:
        if bar["bar"] is not None:
            bar["bar"].__exit__(None, None, None)
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    for path, reason in summary.skipped_files:
        typer.echo(f"skipped {path}: {reason}", err=True)
    typer.echo(
        f"index {summary.index_dir}\n"
        f"files {summary.files}  chunks {summary.chunks}  embedded {summary.embedded}  "
        f"skipped {summary.skipped} (unchanged)  removed {summary.removed}  "
        f"skipped files {len(summary.skipped_files)}  seconds {summary.seconds:.1f}"
    )


@app.command()
def search(
    question: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="How many passages."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
    mode: Optional[str] = typer.Option(None, "--mode", help="dense, bm25 or hybrid (default hybrid)."),
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Print the passages that best answer QUESTION."""
    from retriever import IndexNotBuiltError, Retriever

    try:
        hits = Retriever(index_dir, mode=mode).search(question, k=k)
    except (IndexNotBuiltError, ValueError) as e:
        raise UserError(str(e)) from e
    if as_json:
        typer.echo(json.dumps([asdict(h) for h in hits], indent=2))
        return
    if not hits:
        typer.echo("no results")
    for i, h in enumerate(hits, 1):
        where = f"{h.path} § {h.heading}" if h.heading else h.path
        excerpt = " ".join(h.text.split())
        typer.echo(f"{i}. {where}  ({h.score:.3f})\n   {excerpt[:300]}")


@app.command()
def stats(
    index_dir: Optional[Path] = IndexDirOpt,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Describe the index: sources, model, chunk counts, last build."""
    from docs_index.layout import IndexLayout

    layout = IndexLayout.at(index_dir)
    manifest = layout.read_manifest()
    if manifest is None:
        raise UserError(f"no docs index at {layout.root}; build it with `uv run docs-index build`")
    from retriever import Retriever

    r = Retriever(layout.root)
    info = dict(manifest)
    info["index_dir"] = str(layout.root)
    info["loadable"] = r.available()
    info["vectors"] = _vector_count(layout, manifest) if info["loadable"] else 0
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    last = manifest.get("last_build", {})
    typer.echo(f"index      {layout.root}  ({'ok' if info['loadable'] else 'NOT LOADABLE'})")
    typer.echo(f"built at   {manifest.get('built_at')}")
    typer.echo(f"sources    {', '.join(manifest.get('sources', []))}")
    typer.echo(f"model      {manifest.get('model_id')}  ({manifest.get('model_path') or 'packaged'})")
    typer.echo(f"files      {manifest.get('files')}")
    typer.echo(f"chunks     {manifest.get('chunks')}  (vectors {info['vectors']})")
    for src, n in sorted(manifest.get("chunks_by_source", {}).items()):
        typer.echo(f"  {n:>7}  {src}")
    if last:
        typer.echo(f"last build embedded {last.get('embedded')}, skipped {last.get('skipped')}, "
                   f"removed {last.get('removed')} in {last.get('seconds', 0):.1f} s")


def _vector_count(layout, manifest: dict) -> int:
    """Vectors in the Chroma collection (should equal the manifest's chunk count)."""
    from docs_index.chroma_ef import JobAgentEmbeddingFunction, open_collection

    ef = JobAgentEmbeddingFunction(manifest.get("model_path"), int(manifest.get("max_seq_length", 256)))
    return open_collection(str(layout.chroma_dir), ef, create=False)[1].count()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``docs-index`` console script; exits 0, 1 (user error) or 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        rv = app(args=argv, prog_name="docs-index", standalone_mode=False)
    except UserError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except typer.TyperException as e:  # usage errors, bad parameters (typer's click)
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        typer.echo("internal error (see the traceback above)", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
