"""The LLM gateway: the one place model calls are made (through litellm), validated, cached and accounted."""
