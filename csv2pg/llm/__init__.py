"""The LLM advisor: a model proposes column types and comments, the profile disposes.

Modules: ``base`` (the provider protocol, replies, errors, key handling), ``prompt`` (the
request per chunk and the answer's JSON Schema), ``gemini`` (google-genai; the only module
that imports it) and ``openai_compat`` (OpenAI-compatible chat completions over httpx2),
``cache`` (answers on disk by request hash), ``judge`` (each suggestion against the
profile), ``advisor`` (requests in parallel with rate limit, retries and a time budget).

Nothing here prints; warnings and per-request summaries go to the ``csv2pg.llm`` logger.
"""
