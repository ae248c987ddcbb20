"""`lead mcp`: the pipeline as an MCP server (the official `mcp` SDK), over stdio or streamable HTTP.

- `lead.mcp.tools`: the tools (names, JSON schemas, write or not) and the pipeline calls behind them;
- `lead.mcp.audit`: one call, checked, refused or run, and recorded in the audit table;
- `lead.mcp.server`: the SDK server and its transports, the lazily opened workspace.

Importing this package imports nothing else: `lead submit`/`lead status` stay light.
"""
