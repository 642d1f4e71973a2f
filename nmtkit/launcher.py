"""`nmtkit train --workers N`: N local worker processes of one multi-worker run.

Each worker is `nmtkit train` with its own `TF_CONFIG` (a cluster of N workers on free
127.0.0.1 ports; worker 0 is the chief), one GPU each where GPUs are visible, else an equal
share of the CPU's cores. The chief's output is the command's; SIGINT and SIGTERM go to every
worker (which stop together after a checkpoint); when a worker fails the others see it within
seconds and stop, and any still running after a grace period are stopped, so no process is left
behind. The exit code is the first failing worker's; a worker killed outright (no message of its
own) is named in one line.

This module does not import TensorFlow: the launcher only starts and watches processes.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from nmtkit.errors import UsageError

DEFAULT_TIMEOUT_S = 300.0  # --worker-timeout: a collective that waits longer for a peer fails
GRACE_S = 30.0  # after a worker fails, how long the others have to notice and stop by themselves
KILL_AFTER_S = 10.0  # after SIGTERM, before SIGKILL
PORT_RETRIES = 3  # starts with fresh ports when a worker found its port taken (exit 75)
PORT_TAKEN = 75
WORKERS_ENV = "NMTKIT_WORKERS"  # set in each worker: how the run continues (`--workers N --resume`)


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 now (another program may take one before a
    worker binds it: the worker then exits 75 and `launch` tries again)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def visible_gpus(device: str | None) -> list[str]:
    """The GPUs the workers may use (CUDA_VISIBLE_DEVICES's, else nvidia-smi's), none for cpu."""
    if device == "cpu":
        return []
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip() and d.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(line for line in listing.splitlines() if line.startswith("GPU "))]


def worker_environments(workers: int, ports: Sequence[int], gpus: Sequence[str]) -> list[dict[str, str]]:
    addresses = [f"127.0.0.1:{port}" for port in ports]
    threads = max(1, len(os.sched_getaffinity(0)) // workers)
    envs = []
    for index in range(workers):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
        env[WORKERS_ENV] = str(workers)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[index]
        else:  # the cores split between the workers (unless the caller chose)
            env.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
            env.setdefault("TF_NUM_INTEROP_THREADS", str(min(threads, 2)))
        envs.append(env)
    return envs


def _die_with_parent() -> None:
    """In a worker, before it starts: SIGTERM when the launcher dies (even by SIGKILL), so that
    no worker is left training alone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


class _Worker:
    def __init__(self, index: int, args: Sequence[str], env: dict[str, str], log: Path | None):
        self.index, self.log = index, log
        stderr = open(log, "wb") if log else None  # the chief's goes to the launcher's stderr
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "nmtkit.cli", "train", *args], env=env,
                                            stdin=subprocess.DEVNULL, stderr=stderr, preexec_fn=_die_with_parent)
        finally:
            if stderr:
                stderr.close()
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None and self.process.poll() is not None:
            code = self.process.returncode
            self.code = 128 - code if code < 0 else code
        return self.code

    @property
    def killed_by(self) -> str | None:
        code = self.process.returncode
        return signal.Signals(-code).name if code is not None and code < 0 else None

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(number)
            except ProcessLookupError:
                pass

    def last_line(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return lines[-1] if lines else ""


def launch(workers: int, args: Sequence[str], device: str | None, kept: Callable[[], str]) -> tuple[int, str | None]:
    """Run `nmtkit train ARGS` as `workers` local workers until all have ended; returns the exit
    code (the first failing worker's, or 0) and the one line to print for a failure that no
    worker reported itself (None otherwise). `kept`: what the chief's model directory keeps."""
    if "TF_CONFIG" in os.environ:
        raise UsageError("--workers starts its own cluster of local workers: unset TF_CONFIG, or run "
                         "`nmtkit train` without --workers on each host of TF_CONFIG's cluster")
    gpus = visible_gpus(device)
    if gpus and workers > len(gpus):
        raise UsageError(f"--workers {workers} asks for a GPU per worker, but {len(gpus)} are visible "
                         "(use --device cpu to train on the CPU)")
    for attempt in range(PORT_RETRIES):
        code, message = _run_once(workers, args, gpus, kept)
        if code != PORT_TAKEN:
            return code, message
    return code, message


def _run_once(workers: int, args: Sequence[str], gpus: Sequence[str], kept) -> tuple[int, str | None]:
    envs = worker_environments(workers, free_ports(workers), gpus)
    with tempfile.TemporaryDirectory(prefix="nmtkit-workers.") as logs:
        started: list[_Worker] = []
        forwarded: list[int] = []

        def forward(number: int, frame) -> None:
            forwarded.append(number)
            for worker in started:
                worker.signal(number)

        replaced = {n: signal.signal(n, forward) for n in (signal.SIGINT, signal.SIGTERM)
                    if signal.getsignal(n) is not signal.SIG_IGN}
        try:
            for index, env in enumerate(envs):
                started.append(_Worker(index, args, env, Path(logs) / f"worker-{index}.log" if index else None))
            return _watch(started, kept, forwarded)
        finally:
            for worker in started:  # only on an error of the launcher itself: none is left running
                if worker.process.poll() is None:
                    worker.signal(signal.SIGKILL)
                    worker.process.wait()
            for number, handler in replaced.items():
                signal.signal(number, handler)


def _watch(started: list[_Worker], kept, forwarded: list[int]) -> tuple[int, str | None]:
    first: _Worker | None = None
    deadline = terminated = None

    def failed() -> _Worker | None:
        return next((w for w in started if w.poll() not in (None, 0)), None)

    while any(w.poll() is None for w in started):
        if first is None:
            first = failed()
            deadline = time.monotonic() + GRACE_S if first else None
        now = time.monotonic()
        if deadline is not None and now > deadline and terminated is None:
            terminated = now
            for worker in started:
                worker.signal(signal.SIGTERM)
        if terminated is not None and now > terminated + KILL_AFTER_S:
            for worker in started:
                worker.signal(signal.SIGKILL)
        time.sleep(0.05)
    first = first or failed()  # workers that end together (a stop on a signal) end between two looks
    if first is None:
        return 0, None
    if first.code == PORT_TAKEN:
        return PORT_TAKEN, None
    chief = started[0]
    if first is chief:  # its own line is printed, unless it was killed outright
        if chief.killed_by and not forwarded:
            return first.code, f"the chief (worker 0) was killed by {chief.killed_by}; training stopped ({kept()})"
        return first.code, None
    if chief.killed_by is None and chief.code != 0:
        return first.code, None  # the chief said what happened (e.g. that it lost this worker)
    own = first.last_line()
    if own.startswith("nmtkit: ") and own.count(": ") >= 2:
        return first.code, f"worker {first.index}: {own.split(': ', 2)[2]}"
    return first.code, f"worker {first.index} " + (f"was killed by {first.killed_by}" if first.killed_by
                                                   else f"failed (exit code {first.code})") + f" ({kept()})"
