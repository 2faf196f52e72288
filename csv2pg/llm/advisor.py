"""Asking the model about every chunk of a table: in parallel, rate-limited, retried, cached.

``Advisor.table_advice(table, plan, profiles, heuristic, memo_key)`` returns one
``ChunkAdvice`` per chunk of the plan. The first chunk step of a table asks for all of them at once (under
``concurrency`` requests in flight and ``requests_per_minute``, shared by every table of
the run); the others find the result in memory or in the cache. Each request gets
``retries`` further attempts after a 429, a 5xx or a timeout, waiting ``max(server's retry
delay, exponential backoff with jitter)``, all within ``budget`` seconds per table. A
chunk whose provider fails, or whose answer is malformed or truncated, has ``outcome``
"failed" and an error text; the caller falls back to heuristics or, with
``llm.required``, fails.

Logs (logger ``csv2pg.llm``): one INFO line per request (chunk, model, latency, tokens,
outcome) and one WARNING per table whose provider failed. No key in any of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csv2pg.llm.base import LlmProvider, LlmReply, LlmRequest, ProviderError, make_provider
from csv2pg.llm.cache import AnswerCache, cache_key
from csv2pg.llm.prompt import AnswerError, build_request, parse_answer
from csv2pg.settings import LlmSettings, TableSettings

log = logging.getLogger("csv2pg.llm")

BACKOFF_INITIAL = 1.0    # seconds before the first retry (doubled each time, with jitter)
BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class RequestSummary:
    """What ``-v`` shows about one request."""

    table: str
    chunk: int
    model: str
    outcome: str                # "answered", "cached", or "failed: ..."
    latency: float              # seconds, retries included
    attempts: int
    prompt_tokens: int | None = None
    output_tokens: int | None = None

    def line(self) -> str:
        tokens = ("" if self.prompt_tokens is None and self.output_tokens is None
                  else f", tokens {self.prompt_tokens or 0} in / {self.output_tokens or 0} out")
        tries = f", {self.attempts} attempts" if self.attempts > 1 else ""
        return (f"llm {self.table} chunk_{self.chunk}: {self.model}, {self.latency:.2f} s{tokens}"
                f"{tries}: {self.outcome}")


@dataclass(frozen=True)
class ChunkAdvice:
    """One chunk's answer: validated suggestions, or why there are none."""

    chunk: int
    provider: str
    model: str
    outcome: str                                   # "answered" or "failed"
    suggestions: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    summary: RequestSummary | None = None


class RateLimiter:
    """Request start times spaced ``60 / per_minute`` seconds apart, across threads."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / max(1, per_minute)
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before the next request may start (the slot is taken)."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now


class BudgetExceeded(ProviderError):
    def __init__(self, budget: float) -> None:
        super().__init__(f"gave up after the time budget of {budget:g} s (llm.budget)", retryable=False)


class Advisor:
    """One per run: the cache, the shared limits and each table's advice, asked once."""

    def __init__(self, cache_dir: Path | None, *,
                 provider_factory: Callable[[LlmSettings], LlmProvider] = make_provider,
                 backoff_initial: float = BACKOFF_INITIAL) -> None:
        self.cache_dir = cache_dir
        self.provider_factory = provider_factory
        self.backoff_initial = backoff_initial
        self._lock = threading.Lock()
        self._table_locks: dict[str, threading.Lock] = {}
        self._memo: dict[tuple[str, str], list[ChunkAdvice]] = {}
        self._limiters: dict[int, RateLimiter] = {}
        self._slots: dict[int, threading.BoundedSemaphore] = {}
        self.summaries: list[RequestSummary] = []

    def _limits(self, settings: LlmSettings) -> tuple[RateLimiter, threading.BoundedSemaphore]:
        with self._lock:
            limiter = self._limiters.setdefault(settings.requests_per_minute,
                                                RateLimiter(settings.requests_per_minute))
            slots = self._slots.setdefault(settings.concurrency, threading.BoundedSemaphore(settings.concurrency))
            return limiter, slots

    def table_advice(self, table: TableSettings, plan: Sequence[Sequence[int]],
                     profiles: Sequence[Mapping[str, Any]], heuristic: Sequence[Sequence[Mapping[str, Any]]],
                     memo_key: str) -> list[ChunkAdvice]:
        """Advice for every chunk of ``plan`` (``heuristic``: each chunk's heuristic columns);
        asked once per (table, memo_key) in a run."""
        with self._lock:
            table_lock = self._table_locks.setdefault(table.name, threading.Lock())
        with table_lock:
            key = (table.name, memo_key)
            if key not in self._memo:
                requests = [build_request([profiles[i] for i in chunk], table.llm, [c["type"] for c in columns])
                            for chunk, columns in zip(plan, heuristic, strict=True)]
                self._memo[key] = asyncio.run(self._ask_all(table, requests))
            return self._memo[key]

    async def _ask_all(self, table: TableSettings, requests: list[LlmRequest]) -> list[ChunkAdvice]:
        settings = table.llm
        cache = AnswerCache(self.cache_dir)
        keys = [cache_key(settings.provider, settings.model, settings.base_url, r) for r in requests]
        cached = [cache.get(k) if settings.cache else None for k in keys]
        provider: LlmProvider | None = None
        provider_error: str | None = None
        if any(reply is None for reply in cached):
            try:
                provider = self.provider_factory(settings)
            except ProviderError as error:
                provider_error = error.message
            except (ValueError, TypeError) as error:
                provider_error = f"cannot set up the {settings.provider} client: {type(error).__name__}"
        deadline = time.monotonic() + settings.budget

        async def one(index: int) -> ChunkAdvice:
            reply = cached[index]
            if reply is not None:
                return self._advice(table, index, reply, "cached", 0.0, 1, cache=None, key=keys[index])
            if provider is None:
                return self._failed(table, index, provider_error or "no provider", 0.0, 0)
            return await self._ask(table, index, provider, requests[index], deadline, cache, keys[index])

        try:
            results = await asyncio.gather(*(one(i) for i in range(len(requests))))
        finally:
            if provider is not None:
                await provider.aclose()
        failed = [a for a in results if a.outcome == "failed"]
        if failed:
            chunks = ", ".join(f"chunk_{a.chunk}" for a in failed)
            log.warning("LLM provider %s (model %s) failed for table %s (%s): %s; heuristics were used",
                        settings.provider, settings.model, table.name, chunks, (failed[0].error or "").rstrip("."))
        return list(results)

    async def _ask(self, table: TableSettings, index: int, provider: LlmProvider, request: LlmRequest,
                   deadline: float, cache: AnswerCache, key: str) -> ChunkAdvice:
        settings = table.llm
        limiter, slots = self._limits(settings)
        started = time.monotonic()
        attempts = 0
        while True:
            try:
                reply = await self._attempt(provider, request, settings, limiter, slots, deadline)
                attempts += 1
                break
            except ProviderError as error:
                attempts += 1
                if isinstance(error, BudgetExceeded) or not error.retryable or attempts > settings.retries:
                    return self._failed(table, index, error.message, time.monotonic() - started, attempts)
                backoff = min(BACKOFF_MAX, self.backoff_initial * 2 ** (attempts - 1))
                wait = max(error.retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
                if time.monotonic() + wait > deadline:
                    message = BudgetExceeded(settings.budget).message + f"; last error: {error.message}"
                    return self._failed(table, index, message, time.monotonic() - started, attempts)
                log.info("llm %s chunk_%d: %s; retrying in %.1f s", table.name, index, error.message.rstrip("."), wait)
                await asyncio.sleep(wait)
        return self._advice(table, index, reply, "answered", time.monotonic() - started, attempts,
                            cache=cache, key=key)

    async def _attempt(self, provider: LlmProvider, request: LlmRequest, settings: LlmSettings,
                       limiter: RateLimiter, slots: threading.BoundedSemaphore, deadline: float) -> LlmReply:
        while not slots.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise BudgetExceeded(settings.budget)
            await asyncio.sleep(0.02)
        try:
            delay = limiter.reserve()
            if time.monotonic() + delay > deadline:
                raise BudgetExceeded(settings.budget)
            await asyncio.sleep(delay)
            remaining = deadline - time.monotonic()
            try:
                # The client has its own timeout; this one also covers a server that trickles.
                return await asyncio.wait_for(provider.complete(request),
                                              timeout=min(settings.timeout + 1.0, max(remaining, 0.01)))
            except TimeoutError:
                if remaining < settings.timeout + 1.0:
                    raise BudgetExceeded(settings.budget) from None
                raise ProviderError(f"no answer within {settings.timeout:g} s (llm.timeout)",
                                    retryable=True) from None
            except ProviderError:
                raise
            except Exception as error:
                # A client library's surprise degrades like any failure; its text may quote the
                # request (and so the key), hence the type name only.
                raise ProviderError(f"unexpected {type(error).__name__} from the {provider.name} client",
                                    retryable=False) from None
        finally:
            slots.release()

    def _advice(self, table: TableSettings, index: int, reply: LlmReply, outcome: str, latency: float,
                attempts: int, *, cache: AnswerCache | None, key: str) -> ChunkAdvice:
        settings = table.llm
        try:
            if reply.finish != "stop":
                raise AnswerError(f"the answer is incomplete (finish reason {reply.finish})")
            suggestions = parse_answer(reply.text)
        except AnswerError as error:
            return self._failed(table, index, str(error), latency, attempts, reply)
        if cache is not None:
            cache.put(key, settings.provider, settings.model, reply)
        summary = RequestSummary(table.name, index, settings.model, outcome, latency, attempts,
                                 reply.prompt_tokens, reply.output_tokens)
        self._record(summary)
        return ChunkAdvice(index, settings.provider, settings.model, "answered", tuple(suggestions),
                           summary=summary)

    def _failed(self, table: TableSettings, index: int, error: str, latency: float, attempts: int,
                reply: LlmReply | None = None) -> ChunkAdvice:
        settings = table.llm
        summary = RequestSummary(table.name, index, settings.model, f"failed: {error}", latency, attempts,
                                 reply.prompt_tokens if reply else None, reply.output_tokens if reply else None)
        self._record(summary)
        return ChunkAdvice(index, settings.provider, settings.model, "failed", (), error, summary)

    def _record(self, summary: RequestSummary) -> None:
        with self._lock:
            self.summaries.append(summary)
        log.info("%s", summary.line())
