"""A fake LLM server of ours on 127.0.0.1: Gemini's generateContent and OpenAI-compatible
chat completions, answering like the real APIs (tech.md 2.4), scriptable per test.

The only fake in the suite is at this process boundary: csv2pg talks to it through the real
``google-genai`` client and real httpx2. ``FakeLlm.push(...)`` queues what the next requests
get (an error status, a hang, a malformed or truncated answer); once the queue is empty every
request is answered by ``answer(briefs) -> columns`` (the columns of the plan's JSON shape),
where ``briefs`` are the column briefs csv2pg sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "test-key-5ec2e7-do-not-log"
Answer = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]

ERRORS: dict[int, dict[str, Any]] = {
    429: {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                    "message": "You exceeded your current quota, please check your plan and billing details.",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}},
    500: {"error": {"code": 500, "status": "INTERNAL", "message": "An internal error has occurred."}},
    503: {"error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded. Please try again later."}},
    404: {"error": {"code": 404, "status": "NOT_FOUND", "message": "models/x is not found for API version v1beta"}},
}


@dataclass
class Step:
    """One scripted reply: ``kind`` is status, hang, malformed, truncated, blocked or answer."""

    kind: str
    status: int = 200
    retry_delay: str | None = None
    seconds: float = 0.0
    answer: Answer | None = None


def status(code: int, retry_delay: str | None = None) -> Step:
    return Step("status", status=code, retry_delay=retry_delay)


def hang(seconds: float) -> Step:
    return Step("hang", seconds=seconds)


MALFORMED = Step("malformed")
GARBAGE = Step("garbage")  # a 200 whose body is not the API's shape at all
TRUNCATED = Step("truncated")


def briefs_of(prompt: str) -> list[dict[str, Any]]:
    """The column briefs csv2pg put at the end of its prompt."""
    return list(json.loads(prompt.split("Columns (JSON):\n", 1)[1]))


# --- answers ------------------------------------------------------------------------------------

_PREFERENCE = ("boolean", "smallint", "integer", "bigint", "numeric", "double precision", "date",
               "timestamp", "timestamptz", "time", "uuid", "cidr", "inet", "jsonb")


def narrowest(brief: dict[str, Any]) -> str:
    """The heuristic's choice when csv2pg sent one, else the narrowest type the data allows."""
    if brief.get("heuristic_type"):
        return str(brief["heuristic_type"])
    proven = brief["types_every_value_parses_as"]
    if re.search(r"(^id$|_id$)", brief["column"]) and "bigint" in proven:
        return "bigint"
    return next((t for t in _PREFERENCE if t in proven), "text")


def entry(name: str, pg_type: str, comment: str = "a column", confidence: Any = "high") -> dict[str, Any]:
    return {"column_name": name, "postgresql_type": pg_type, "nullable": True, "confidence": confidence,
            "reasoning": f"looks like {pg_type}", "comment": comment}


def echo_answer(briefs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The narrowest type the data allows, for every column."""
    return [entry(b["column"], narrowest(b), f"the {b['header']} column") for b in briefs]


_CODE_NAME = re.compile(r"(?:^|_)(zip|zipcode|postcode|postal|fips|phone|code|numeric|m49)(?:_|$)")
_ALPHA2_NAME = re.compile(r"(alpha_2|iso2|country_code|iso_a2|^country$)")


def semantic_answer(briefs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a good model says: codes are text, ISO alpha-2 country codes are char(2)."""
    out = []
    for b in briefs:
        name = b["column"]
        digits = "smallint" in b["types_every_value_parses_as"] or "bigint" in b["types_every_value_parses_as"]
        if _CODE_NAME.search(name) and b["has_values"] and digits:
            out.append(entry(name, "text", "a code made of digits, not a quantity"))
        elif _ALPHA2_NAME.search(name) and b["min_length"] == b["max_length"] == 2:
            out.append(entry(name, "char(2)", "ISO 3166-1 alpha-2 country code"))
        else:
            out.append(entry(name, narrowest(b), f"the {b['header']} column"))
    return out


def _contradicting(brief: dict[str, Any]) -> str:
    proven = set(brief["types_every_value_parses_as"]) | {brief.get("heuristic_type")}
    for pg_type in ("integer", "date", "boolean", "uuid", "numeric(3,1)", "char(1)", "jsonb"):
        if pg_type not in proven:
            return pg_type
    return "interval"


def wrong_answer(briefs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every third column gets a type its data contradicts, plus a hallucinated column and
    a column left out; the rest are answered right."""
    out = []
    for i, b in enumerate(briefs):
        if i % 3 == 0:
            out.append(entry(b["column"], _contradicting(b), "wrong on purpose"))
        elif i % 3 == 1 and i == len(briefs) - 1:
            continue  # left out
        else:
            out.append(entry(b["column"], narrowest(b)))
    out.append(entry("no_such_column", "integer", "hallucinated"))
    return out


# --- the server ---------------------------------------------------------------------------------

@dataclass
class FakeLlm:
    """The server's state: the script, the default answer and every request it saw."""

    answer: Answer = echo_answer
    key: str | None = KEY
    script: list[Step] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    usage: tuple[int, int] = (321, 45)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def push(self, *steps: Step) -> None:
        with self._lock:
            self.script.extend(steps)

    def next_step(self) -> Step | None:
        with self._lock:
            return self.script.pop(0) if self.script else None

    def prompts(self) -> list[str]:
        return [r["prompt"] for r in self.requests]


def _handler(fake: FakeLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            gemini = re.fullmatch(r"/(v1beta|v1|v1alpha)/models/([^/:]+):generateContent", path)
            openai = path.endswith("/chat/completions")
            if gemini:
                prompt = body["contents"][0]["parts"][0]["text"]
                model = gemini.group(2)
                authorised = fake.key is None or headers.get("x-goog-api-key") == fake.key
            elif openai:
                prompt = body["messages"][-1]["content"]
                model = body.get("model", "")
                authorised = fake.key is None or headers.get("authorization") == f"Bearer {fake.key}"
            else:
                self._send(404, ERRORS[404])
                return
            fake.requests.append({"path": path, "headers": headers, "json": body, "prompt": prompt,
                                  "model": model, "time": time.monotonic()})
            if not authorised:
                self._send(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                           "message": "API key not valid. Please pass a valid API key."}})
                return
            step = fake.next_step() or Step("answer")
            if step.kind == "hang":
                time.sleep(step.seconds)
                step = Step("answer")
            if step.kind == "status":
                error = json.loads(json.dumps(ERRORS[step.status]))
                if step.retry_delay and step.status == 429:
                    error["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                  "retryDelay": step.retry_delay}]
                extra = {"Retry-After": step.retry_delay.rstrip("s")} if step.retry_delay else {}
                self._send(step.status, error, extra)
                return
            if step.kind == "garbage":
                self._send(200, {"candidates": "not a list", "choices": "not a list"})
                return
            columns = (step.answer or fake.answer)(briefs_of(prompt))
            text = json.dumps({"columns": columns})
            finish = "STOP"
            if step.kind == "malformed":
                text = "{'columns': [this is not JSON"
            elif step.kind == "truncated":
                text, finish = text[: len(text) // 2], "MAX_TOKENS"
            self._send(200, _gemini_reply(text, finish, model, fake.usage) if gemini
                       else _openai_reply(text, finish, model, fake.usage))

        def _send(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


def _gemini_reply(text: str, finish: str, model: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                            "finishReason": finish, "index": 0}],
            "usageMetadata": {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
                              "totalTokenCount": sum(usage)},
            "modelVersion": model, "responseId": "fake-1"}


def _openai_reply(text: str, finish: str, model: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "length" if finish == "MAX_TOKENS" else "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}


@contextmanager
def serve(fake: FakeLlm | None = None) -> Iterator[FakeLlm]:
    """Run ``fake`` on 127.0.0.1 (a free port) for the ``with`` block; ``fake.url`` is its base URL."""
    fake = fake or FakeLlm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
