"""`nmtkit serve`: translation over HTTP, sentences of concurrent requests searched together.

One search thread owns the models (`Batcher`): it takes the first request waiting, gathers the
requests that arrive within `max_delay_s` with the same search settings (up to `max_batch`
sentences), searches them as one batch (sorted by length, as `translate` does), and hands each
request its own translations back. The event loop only parses, queues and answers, so it never
waits on a search. Each distinct setting of beam, n-best and length penalty is a search of its
own, compiled at its first use; the recipe's is compiled and run once before `/ready` says so.

    POST /v1/translate  {"text": ["...", ...], "beam": 5, "n_best": 1, "length_penalty": 0.0}
         -> {"translations": [{"text": "...", "score": -1.23}, ...]}  (in order; with n_best > 1
            each also holds "n_best": [{"text", "score"}, ...]; a blank line: "" and null)
    GET  /health   200 while the process serves
    GET  /ready    200 once the model is loaded and its search warmed up, 503 before
    GET  /metrics  Prometheus text: requests by code, sentences, latency, batch sizes, pending
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nmtkit.errors import UsageError

@dataclass
class Limits:
    max_sentences: int = 256  # per request
    max_chars: int = 100_000  # per request, all sentences
    max_beam: int = 16
    max_pending: int = 1024  # requests accepted and not answered yet; more are refused with 503
    max_batch: int = 128  # sentences searched together
    max_delay_s: float = 0.005  # how long the search thread gathers after the first request


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    lines: list[str]
    key: tuple  # (beam, n_best, length_penalty) as the request gave them (None: the recipe's)
    answer: Callable[[Any], None]  # called from the search thread with the translations or an exception
    sentences: int = field(init=False)

    def __post_init__(self) -> None:
        self.sentences = len(self.lines)


_STOP = object()


class Batcher:
    """The search thread and its queue. `load` builds the default Translator (in the thread, so
    the server answers /health while the model loads); if it fails, `on_failure` is called (the
    server stops, and its command reports `failed`)."""

    def __init__(self, load: Callable[[], Any], limits: Limits, metrics: "Metrics",
                 on_failure: Callable[[], None] = lambda: None):
        self.limits, self.metrics, self.on_failure = limits, metrics, on_failure
        self.queue: queue.Queue = queue.Queue()
        self.pending = 0  # jobs accepted, not answered
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.translators: dict[tuple, Any] = {}
        self.default = None  # the Translator of the recipe's settings, once loaded
        self.thread = threading.Thread(target=self._run, args=(load,), name="nmtkit-search", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(_STOP)
        self.thread.join()

    def submit(self, job: Job) -> bool:
        """Queue `job`; False when `max_pending` requests are waiting already."""
        with self.lock:
            if self.pending >= self.limits.max_pending:
                return False
            self.pending += 1
            self.metrics.pending.set(self.pending)
        self.queue.put(job)
        return True

    def _run(self, load) -> None:
        try:
            self.default = load()
            self.translators[(None, 1, None)] = self.default
            self.default.translate(["warm up"])  # traces the search: the first request is as fast as any
        except BaseException as exc:  # noqa: BLE001 (reported by /ready, every request, the command)
            self.failed = exc
            self.on_failure()
        self.ready.set()
        waiting = None
        while True:
            job = waiting if waiting is not None else self.queue.get()
            waiting = None
            if job is _STOP:
                return
            batch, size = [job], job.sentences
            deadline = time.monotonic() + self.limits.max_delay_s
            while size < self.limits.max_batch:
                try:
                    more = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is _STOP or more.key != job.key or size + more.sentences > self.limits.max_batch:
                    waiting = more  # the next batch's first
                    break
                batch.append(more)
                size += more.sentences
            self._search(batch)

    def _search(self, batch: list[Job]) -> None:
        try:
            if self.failed is not None:
                raise self.failed
            translator = self._translator(batch[0].key)
            found = translator.translate([line for job in batch for line in job.lines])
            self.metrics.batch_size.observe(len(found))
        except UsageError as exc:  # settings that cannot be searched (n-best above the beam)
            found, error = None, BadRequest(400, str(exc))
        except Exception as exc:  # noqa: BLE001 (each request gets it as a 500)
            found, error = None, exc
        start = 0
        for job in batch:
            if found is None:
                job.answer(error)
            else:
                job.answer(found[start: start + job.sentences])
            start += job.sentences
        with self.lock:
            self.pending -= len(batch)
            self.metrics.pending.set(self.pending)

    def _translator(self, key: tuple):
        """The Translator of (beam, n_best, length_penalty); None in a place: the recipe's."""
        if key not in self.translators:
            beam, n_best, alpha = key
            changes = {k: v for k, v in (("beam_size", beam), ("length_penalty", alpha)) if v is not None}
            self.translators[key] = self.default.with_settings(n_best=n_best, **changes)
        return self.translators[key]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("nmtkit_requests", "HTTP requests to /v1/translate by status code",
                                ["code"], registry=self.registry)
        self.sentences = Counter("nmtkit_sentences", "Sentences translated", registry=self.registry)
        self.latency = Histogram("nmtkit_request_seconds", "Time from a request to its answer",
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.batch_size = Histogram("nmtkit_batch_sentences", "Sentences searched together",
                                    registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
        self.pending = Gauge("nmtkit_pending_requests", "Requests accepted and not answered yet",
                             registry=self.registry)


def parse_request(body: bytes, limits: Limits) -> tuple[list[str], int | None, int, float | None]:
    """The sentences and search settings of a request body; BadRequest (400 or 413) otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadRequest(400, 'the body must be a JSON object: {"text": ["...", ...]}')
    unknown = sorted(set(data) - {"text", "beam", "n_best", "length_penalty"})
    if unknown:
        raise BadRequest(400, f"unknown field {unknown[0]!r} (fields: text, beam, n_best, length_penalty)")
    text = data.get("text")
    if not isinstance(text, list) or not all(isinstance(line, str) for line in text):
        raise BadRequest(400, '"text" must be a list of strings')
    if any("\n" in line or "\r" in line for line in text):
        raise BadRequest(400, '"text" holds sentences, one per string, without line breaks')
    if len(text) > limits.max_sentences:
        raise BadRequest(413, f"{len(text)} sentences in one request; at most {limits.max_sentences}")
    if sum(map(len, text)) > limits.max_chars:
        raise BadRequest(413, f"{sum(map(len, text))} characters in one request; at most {limits.max_chars}")
    beam = _number(data, "beam", int, 1, limits.max_beam)
    n_best = _number(data, "n_best", int, 1, beam or limits.max_beam) or 1
    alpha = _number(data, "length_penalty", float, 0.0, 10.0)
    return text, beam, n_best, alpha


def _number(data: dict, name: str, kind: type, low: float, high: float):
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise BadRequest(400, f'"{name}" must be {"an integer" if kind is int else "a number"}')
    if not low <= value <= high:
        raise BadRequest(400, f'"{name}" must be between {low} and {high}, got {value}')
    return kind(value)


def make_app(batcher: Batcher, metrics: Metrics) -> Starlette:
    limits = batcher.limits

    async def translate(request: Request) -> Response:
        began = time.monotonic()
        try:
            lines, beam, n_best, alpha = parse_request(await request.body(), limits)
        except BadRequest as exc:
            return _answer(metrics, exc.status, {"error": str(exc)})
        if not lines:
            return _answer(metrics, 200, {"translations": []})
        key = (beam, n_best, alpha)
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def answer(result) -> None:  # from the search thread
            loop.call_soon_threadsafe(_settle, future, result)

        if not batcher.submit(Job(lines, key, answer)):
            return _answer(metrics, 503, {"error": "too many requests waiting; try again shortly"},
                           headers={"Retry-After": "1"})
        result = await future
        if isinstance(result, BadRequest):
            return _answer(metrics, result.status, {"error": str(result)})
        if isinstance(result, BaseException):
            return _answer(metrics, 500, {"error": " ".join(str(result).split()) or type(result).__name__})
        metrics.sentences.inc(len(lines))
        metrics.latency.observe(time.monotonic() - began)
        return _answer(metrics, 200, {"translations": [_translation(t, n_best) for t in result]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def ready(request: Request) -> Response:
        if not batcher.ready.is_set():
            return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
        if batcher.failed is not None:
            return JSONResponse({"status": "failed", "error": str(batcher.failed)}, status_code=500)
        return JSONResponse({"status": "ready"})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/v1/translate", translate, methods=["POST"]), Route("/health", health),
                             Route("/ready", ready), Route("/metrics", prometheus)])


def _settle(future: asyncio.Future, result) -> None:
    if not future.done():  # the client may have gone
        future.set_result(result)


def _answer(metrics: Metrics, status: int, body: dict, headers: dict | None = None) -> Response:
    metrics.requests.labels(code=str(status)).inc()
    return JSONResponse(body, status_code=status, headers=headers)


def _translation(translation, n_best: int) -> dict[str, Any]:
    best = translation.candidates[0] if translation.candidates else None
    out: dict[str, Any] = {"text": best.text if best else "", "score": best.score if best else None}
    if n_best > 1:
        out["n_best"] = [{"text": c.text, "score": c.score} for c in translation.candidates]
    return out
