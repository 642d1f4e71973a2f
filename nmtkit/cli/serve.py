"""`nmtkit serve`: a JSON HTTP API over a model (or an ensemble), with dynamic batching."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from typing import List

import typer

from nmtkit.cli.common import reports_errors
from nmtkit.native_stderr import import_tensorflow_quietly

EXAMPLES = """Examples:

\b
  nmtkit serve -m runs/demo-dates/model --port 8080
  curl -s localhost:8080/v1/translate -d '{"text": ["3 May 2001"]}'
  curl -s localhost:8080/v1/translate -d '{"text": ["May 3"], "n_best": 3}'
"""


@reports_errors
def serve(
    model: List[Path] = typer.Option(..., "--model", "-m", metavar="DIR",
                                     help="Model directory (from `train`); repeat to ensemble."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, metavar="N", help="Port; 0 = any free one."),
    max_batch: int = typer.Option(128, "--max-batch", min=1, metavar="N",
                                  help="Most sentences searched together."),
    max_delay_ms: float = typer.Option(5.0, "--max-delay-ms", min=0.0, metavar="MS",
                                       help="How long a batch waits for more requests."),
    max_pending: int = typer.Option(1024, "--max-pending", min=1, metavar="N",
                                    help="Requests waiting at most; more get 503."),
    max_sentences: int = typer.Option(256, "--max-sentences", min=1, metavar="N",
                                      help="Most sentences in one request (413 above)."),
    max_chars: int = typer.Option(100_000, "--max-chars", min=1, metavar="N",
                                  help="Most characters in one request (413 above)."),
    max_beam: int = typer.Option(16, "--max-beam", min=1, metavar="N", help="Widest beam a request may ask."),
) -> None:
    """Serve translations over HTTP (JSON).

    POST /v1/translate {"text": [...], "beam", "n_best", "length_penalty"} answers
    {"translations": [{"text", "score"}, ...]} in order. GET /health, /ready (model loaded
    and warmed up) and /metrics (Prometheus). Sentences of concurrent requests are searched
    together. SIGTERM or Ctrl-C: no new requests, those in flight are answered, exit 0.
    """
    import uvicorn

    from nmtkit.serving import Batcher, Limits, Metrics, make_app

    limits = Limits(max_sentences, max_chars, max_beam, max_pending, max_batch, max_delay_ms / 1000)
    listener = socket.create_server((host, port))  # bound here: a busy port is an error before any loading
    metrics = Metrics()
    # Here, before any other thread runs: the quiet import points fd 2 away from stderr for a
    # while, and whatever another thread wrote meanwhile would be lost.
    import_tensorflow_quietly()

    def load():  # in the search thread, while the server already answers /health
        from nmtkit.translate import Translator

        return Translator(model)

    def stop_serving() -> None:  # the model did not load: a bad model directory is the command's error
        server.should_exit = True

    batcher = Batcher(load, limits, metrics, on_failure=stop_serving)
    server = uvicorn.Server(uvicorn.Config(make_app(batcher, metrics), log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=60))
    address, bound = listener.getsockname()[:2]
    typer.echo(f"nmtkit: serving {', '.join(map(str, model))} on http://{address}:{bound}", err=True)
    batcher.start()
    # uvicorn handles SIGINT and SIGTERM while it serves (no new requests, those in flight
    # answered), then raises the signal again for the handler it found: ignoring it then is what
    # makes a drained server exit 0.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    try:
        server.run(sockets=[listener])
    finally:
        batcher.stop()
    if batcher.failed is not None:
        raise batcher.failed
