"""OpenAI-compatible chat completions (Ollama, vLLM, llama.cpp, other vendors) over httpx2.

``POST {base_url}/chat/completions`` with ``response_format`` of type ``json_schema``. The
key (``api_key_env``, else OPENAI_API_KEY) is optional, since local servers need none. One
attempt per call; errors become ProviderError with the key scrubbed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from csv2pg.llm.base import LlmReply, LlmRequest, ProviderError, find_api_key, is_loopback, scrub
from csv2pg.settings import LlmSettings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAiCompatibleProvider:
    """``LlmProvider`` for any server speaking the chat-completions API."""

    name = "openai"

    def __init__(self, settings: LlmSettings, environ: Mapping[str, str] | None = None) -> None:
        self.model = settings.model
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = settings.timeout
        self._key = find_api_key(settings, environ, required=False)
        headers = {"Authorization": f"Bearer {self._key.value}"} if self._key else {}
        self._client = httpx2.AsyncClient(timeout=settings.timeout, headers=headers,
                                          trust_env=not is_loopback(self.base_url))

    def __repr__(self) -> str:
        return f"OpenAiCompatibleProvider(model={self.model!r}, base_url={self.base_url!r})"

    async def complete(self, request: LlmRequest) -> LlmReply:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": request.system},
                         {"role": "user", "content": request.prompt}],
            "temperature": 0,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "column_types", "schema": dict(request.schema)}},
        }
        url = f"{self.base_url}/chat/completions"
        try:
            response = await self._client.post(url, json=body)
        except httpx2.TimeoutException:
            raise ProviderError(f"no answer within {self.timeout:g} s (llm.timeout)", retryable=True) from None
        except httpx2.TransportError as error:
            raise ProviderError(f"cannot reach {self.base_url}: {type(error).__name__}", retryable=True) from None
        if response.status_code >= 400:
            raise self._http_error(response)
        try:
            data: dict[str, Any] = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError("the server's response is not a chat completion", retryable=False,
                                status=response.status_code) from None
        usage = data.get("usage") or {}
        finish = str(choice.get("finish_reason") or "stop").lower()
        return LlmReply(text, "max_tokens" if finish == "length" else finish,
                        usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def _http_error(self, response: httpx2.Response) -> ProviderError:
        code = response.status_code
        try:
            error = response.json().get("error")
            message = error.get("message") if isinstance(error, dict) else str(error or "")
        except (ValueError, AttributeError):
            message = response.text[:200]
        message = scrub(" ".join(str(message).split()), self._key)
        if code == 404:
            return ProviderError(f"model {self.model!r} or {self.base_url}/chat/completions not found (404): "
                                 f"{message}", retryable=False, status=code)
        retry_after = None
        header = response.headers.get("retry-after")
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        return ProviderError(f"HTTP {code}: {message}", retryable=code in RETRYABLE_STATUS,
                             retry_after=retry_after, status=code)

    async def aclose(self) -> None:
        await self._client.aclose()


