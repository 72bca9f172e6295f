"""Local AI work: priority scheduling over Ollama hosts, tools, context, ledger."""
