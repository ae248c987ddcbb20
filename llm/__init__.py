"""The LLM gateway: the one place model calls are made (through litellm), validated, cached and accounted.

Modules: `config` (which model, from `JOB_AGENT_LLM_MODEL` / `JOB_AGENT_LLM_API_BASE` or a
requirement's `llm:` front matter; light), `gateway` (`Gateway.complete_text`,
`complete_checked`, `complete_json`; `get_gateway` returns None when the LLM is off; typed
errors `LlmUnavailable`, `LlmOutputInvalid`; litellm imported at the first call), `usage`
(the `llm_call` rows summed for `lead llm usage`). Callers: `lead.prose` (purpose
`prose_lead`), `tasks.remediation.llm_fallback` (`remediation`),
`tasks.remediation.email_explanation` (`remediation_email`), `lead.ask.llm_route`
(`ask_route`), `tasks.answer_summary` (`ask_summary`).
"""
