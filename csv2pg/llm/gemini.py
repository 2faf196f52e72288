"""Gemini through ``google-genai`` (the only module that imports it).

One attempt per call (the SDK's own retries are off: it ignores the server's retry delay,
tech.md 2.2); structured output through ``response_json_schema``; the key passed to the
client explicitly (the SDK would prefer GOOGLE_API_KEY on its own); ``api_version`` pinned
to v1beta; the timeout given in milliseconds. Errors become ProviderError with the key
scrubbed and no chained exception (an httpx request carries the key in a header).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types

from csv2pg.llm.base import LlmReply, LlmRequest, ProviderError, find_api_key, is_loopback, scrub
from csv2pg.settings import LlmSettings

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_OUTPUT_TOKENS = 8192
_DELAY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)s$")


def retry_delay(details: Any) -> float | None:
    """The ``google.rpc.RetryInfo.retryDelay`` of an error body ("47s" → 47.0), if any."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


class GeminiProvider:
    """``LlmProvider`` for the Gemini API (or anything answering like it at ``base_url``)."""

    name = "gemini"

    def __init__(self, settings: LlmSettings, environ: Mapping[str, str] | None = None) -> None:
        self.model = settings.model
        self.base_url = settings.base_url
        self.timeout = settings.timeout
        self._key = find_api_key(settings, environ, required=True)
        assert self._key is not None
        local = is_loopback(settings.base_url)
        self._client = genai.Client(api_key=self._key.value, http_options=types.HttpOptions(
            base_url=settings.base_url, api_version="v1beta", timeout=max(1, round(settings.timeout * 1000)),
            client_args={"trust_env": not local}, async_client_args={"trust_env": not local}))

    def __repr__(self) -> str:
        return f"GeminiProvider(model={self.model!r}, base_url={self.base_url!r})"

    async def complete(self, request: LlmRequest) -> LlmReply:
        config = types.GenerateContentConfig(
            system_instruction=request.system, response_mime_type="application/json",
            response_json_schema=dict(request.schema), temperature=0.0,
            max_output_tokens=MAX_OUTPUT_TOKENS)
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=request.prompt, config=config)
        except errors.APIError as error:
            raise self._api_error(error) from None
        except httpx2.TimeoutException:
            raise ProviderError(f"no answer within {self.timeout:g} s (llm.timeout)", retryable=True) from None
        except httpx2.TransportError as error:
            raise ProviderError(scrub(f"cannot reach {self.base_url or 'the Gemini API'}: "
                                      f"{type(error).__name__}", self._key), retryable=True) from None
        usage = response.usage_metadata
        prompt_tokens = usage.prompt_token_count if usage else None
        output_tokens = usage.candidates_token_count if usage else None
        if not response.candidates:
            feedback = response.prompt_feedback
            reason = feedback.block_reason if feedback and feedback.block_reason else "no candidates"
            return LlmReply("", f"blocked: {getattr(reason, 'value', reason)}", prompt_tokens, output_tokens)
        finish = response.candidates[0].finish_reason
        finish_text = str(getattr(finish, "value", finish) or "STOP").lower()
        return LlmReply(response.text or "", finish_text, prompt_tokens, output_tokens)

    def _api_error(self, error: errors.APIError) -> ProviderError:
        code = int(error.code or 0)
        message = scrub(str(error.message or error.status or "error"), self._key)
        if code == 404:
            return ProviderError(f"model {self.model!r} not found (404): it may be retired; "
                                 "change llm.model", retryable=False, status=code)
        text = f"HTTP {code} {error.status or ''}".rstrip() + f": {message}"
        return ProviderError(text, retryable=code in RETRYABLE_STATUS,
                             retry_after=retry_delay(error.details) if code == 429 else None, status=code)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
