"""The provider protocol and what crosses it: a request, a reply, a provider error.

A provider makes exactly one attempt per ``complete`` call; retries, timeouts over all
attempts, the rate limit and caching are the advisor's. The API key is read from the
environment when a provider is made and never leaves it: not in a ``repr``, a message or a
log line (``scrub``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from csv2pg.errors import Csv2pgError
from csv2pg.settings import LlmSettings

GEMINI_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
OPENAI_KEY_VARIABLES = ("OPENAI_API_KEY",)


@dataclass(frozen=True)
class LlmRequest:
    """What one chunk asks: an instruction, the prompt, and the JSON Schema of the answer."""

    system: str
    prompt: str
    schema: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"system": self.system, "prompt": self.prompt, "schema": dict(self.schema)}


@dataclass(frozen=True)
class LlmReply:
    """A provider's answer before validation."""

    text: str
    finish: str = "stop"           # "stop", or why the model stopped early ("max_tokens", "safety"...)
    prompt_tokens: int | None = None
    output_tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "finish": self.finish, "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LlmReply:
        return cls(str(data["text"]), str(data.get("finish", "stop")), data.get("prompt_tokens"),
                   data.get("output_tokens"))


class ProviderError(Exception):
    """One failed attempt. ``retryable``: a 429, 5xx, timeout or connection failure."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return f"ProviderError({self.message!r}, status={self.status}, retryable={self.retryable})"


class LlmError(Csv2pgError):
    """The LLM could not advise and ``llm.required = true`` (exit 1)."""


class LlmProvider(Protocol):
    """One model behind one API. ``complete`` makes a single attempt."""

    name: str
    model: str

    async def complete(self, request: LlmRequest) -> LlmReply: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ApiKey:
    """A secret read from the environment; its ``repr`` and ``str`` never show it."""

    value: str = field(repr=False)
    variable: str

    def __str__(self) -> str:
        return f"<API key from {self.variable}>"


def find_api_key(settings: LlmSettings, environ: Mapping[str, str] | None = None,
                 *, required: bool) -> ApiKey | None:
    """The key in ``api_key_env``, else the provider's usual variables (in that order).

    Missing and ``required`` is a non-retryable ProviderError naming the variables to set.
    """
    environ = os.environ if environ is None else environ
    names: tuple[str, ...]
    if settings.api_key_env:
        names = (settings.api_key_env,)
    else:
        names = GEMINI_KEY_VARIABLES if settings.provider == "gemini" else OPENAI_KEY_VARIABLES
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return ApiKey(value, name)
    if required:
        raise ProviderError(f"no API key: set {' or '.join(names)}"
                            + ("" if settings.api_key_env else " (or name another variable in llm.api_key_env)"),
                            retryable=False)
    return None


def scrub(text: str, key: ApiKey | None) -> str:
    """``text`` with the key replaced, whatever a server or library echoed back."""
    if key is not None and key.value and key.value in text:
        text = text.replace(key.value, "***")
    return text


def is_loopback(url: str | None) -> bool:
    """Whether ``url`` points at this machine (no proxy from the environment applies then)."""
    if not url:
        return False
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def make_provider(settings: LlmSettings, environ: Mapping[str, str] | None = None) -> LlmProvider:
    """The provider ``settings.provider`` names (imports its client library only then)."""
    if settings.provider == "gemini":
        from csv2pg.llm.gemini import GeminiProvider

        return GeminiProvider(settings, environ)
    if settings.provider == "openai":
        from csv2pg.llm.openai_compat import OpenAiCompatibleProvider

        return OpenAiCompatibleProvider(settings, environ)
    raise ProviderError(f"unknown LLM provider {settings.provider!r} (gemini or openai)", retryable=False)
