"""Training on several workers: this process's place in the cluster, what the workers agree on,
and a lost worker as one error.

With `TF_CONFIG` in the environment (TensorFlow's cluster description; `nmtkit train --workers N`
sets it for N local processes) every worker runs the same command under
tf.distribute.MultiWorkerMirroredStrategy: the same batch plan from the shared seed, each worker
feeding its slice of every global batch, gradients all-reduced. A single process is a cluster
of one, so the run loop has one shape for both.

What must be the same on every worker goes through `agree` (a sum over workers: the stop
requests and the time budget before each step) or `from_chief` (the chief's validation
figures), so that no worker decides alone and leaves the others waiting on a collective.

A worker that dies is noticed by the others within seconds (its connection drops, or its
heartbeats to the coordination service stop, after about 10 s); a worker that hangs while alive
by the collective timeout (`timeout_s`). Either is `WorkerLost`, one line naming the worker.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from nmtkit.errors import NmtkitError, UsageError, one_line
from nmtkit.launcher import DEFAULT_TIMEOUT_S

__all__ = ["DEFAULT_TIMEOUT_S", "Cluster", "WorkerLost", "join_cluster", "local_cluster"]
_PEER = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
                tf.errors.CancelledError)


class WorkerLost(NmtkitError):
    """Another worker of a multi-worker run died or stopped answering; this one stops too."""

    exit_code = 69  # EX_UNAVAILABLE


class ClusterStartError(NmtkitError):
    """This worker could not start its server (its port was taken): starting again may work."""

    exit_code = 75  # EX_TEMPFAIL: `--workers` picks new ports and tries again


class Cluster:
    """The workers of one run, from this process's side; one process alone is a cluster of one."""

    def __init__(self, strategy: tf.distribute.Strategy, task: tuple[str, int] = ("worker", 0),
                 addresses: dict[str, Sequence[str]] | None = None, timeout_s: float = 0.0):
        self.strategy = strategy
        self.task, self.addresses, self.timeout_s = task, addresses or {}, timeout_s
        self.workers = sum(len(a) for a in self.addresses.values()) or 1
        self.is_chief = self.workers == 1 or strategy.extended.should_checkpoint
        self.index = 0  # this worker's place in the replicas' order, 0 .. workers - 1
        if self.workers > 1:
            ids = []  # this worker's replicas; the first contributes its values to `agree`
            strategy.experimental_distribute_values_from_function(
                lambda context: ids.append(context.replica_id_in_sync_group) or 0)
            self._first, self.index = min(ids), min(ids) // len(ids)
            self._sum = tf.function(lambda values: strategy.reduce(
                "SUM", strategy.run(tf.identity, args=(values,)), axis=None), autograph=False)

    @property
    def name(self) -> str:
        return describe_task(*self.task)

    def agree(self, values: Sequence[float]) -> np.ndarray:
        """The sum of every worker's `values` (the same length on each), seen by all."""
        values = np.asarray(values, dtype=np.float64)
        if self.workers == 1:
            return values
        zeros = np.zeros_like(values)
        local = self.strategy.experimental_distribute_values_from_function(
            lambda context: values if context.replica_id_in_sync_group == self._first else zeros)
        return self._sum(local).numpy()

    def from_chief(self, values: Sequence[float]) -> np.ndarray:
        """The chief's `values`, on every worker."""
        values = np.asarray(values, dtype=np.float64)
        return self.agree(values if self.is_chief else np.zeros_like(values))

    @contextmanager
    def watch(self, where: Callable[[], str], kept: Callable[[], str]) -> Iterator[None]:
        """A failed collective (a worker died or hung) as `WorkerLost`, naming the worker when
        TensorFlow's error does, `where` the run was and what `kept` says survives."""
        try:
            yield
        except tf.errors.OpError as exc:
            if self.workers == 1 or not (isinstance(exc, _PEER_ERRORS) or "ollective" in str(exc)):
                raise  # not about the other workers (e.g. out of memory)
            raise WorkerLost(f"{self._lost(exc)} {where()}; training stopped ({kept()})") from None

    def _lost(self, exc: tf.errors.OpError) -> str:
        text = str(exc)
        peers = [(job, int(index)) for job, index in _PEER.findall(text) if (job, int(index)) != self.task]
        who = ", ".join(dict.fromkeys(self._describe(*peer) for peer in peers)) or "another worker"
        if isinstance(exc, tf.errors.DeadlineExceededError):
            return f"lost {who}: no answer within {self.timeout_s:g} s (train --worker-timeout)"
        if "heartbeat" in text:
            return f"lost {who}: it stopped answering (no heartbeats)"
        if peers or isinstance(exc, tf.errors.UnavailableError):
            return f"lost {who}: its connection closed (the process ended or its host is unreachable)"
        return f"lost contact with the other workers ({one_line(exc, 160)})"

    def _describe(self, job: str, index: int) -> str:
        addresses = self.addresses.get(job, ())
        where = f" ({addresses[index]})" if index < len(addresses) else ""
        return f"{describe_task(job, index)}{where}"


def describe_task(job: str, index: int) -> str:
    return "the chief" if job == "chief" else f"{job} {index}"


def local_cluster(strategy: tf.distribute.Strategy) -> Cluster:
    return Cluster(strategy)


def read_tf_config() -> tuple[dict[str, list[str]], tuple[str, int]]:
    """`TF_CONFIG`'s cluster (job -> addresses) and this task, checked for what nmtkit runs:
    workers (and an optional chief), no parameter servers or evaluators."""
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        cluster = {job: list(addresses) for job, addresses in config["cluster"].items()}
        task = (str(config["task"]["type"]), int(config["task"]["index"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"TF_CONFIG is not a cluster description ({one_line(exc, 120)}): expected "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": I}}') from None
    others = sorted(set(cluster) - {"chief", "worker"})
    if others:
        raise UsageError(f"TF_CONFIG has {', '.join(others)} tasks: nmtkit trains with workers only "
                         "(MultiWorkerMirroredStrategy), not parameter servers or evaluators")
    if task[0] not in cluster or not 0 <= task[1] < len(cluster[task[0]]):
        raise UsageError(f"TF_CONFIG's task {task[0]} {task[1]} is not in its cluster")
    if len(cluster.get("chief", ())) > 1:
        raise UsageError("TF_CONFIG has more than one chief")
    return cluster, task


def join_cluster(timeout_s: float = DEFAULT_TIMEOUT_S) -> Cluster:
    """This process's worker of the `TF_CONFIG` cluster; returns when every worker has joined.
    Call before building a model (TensorFlow's devices are fixed from then on)."""
    cluster, task = read_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_s or None)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.UnknownError as exc:
        if "start gRPC server" in str(exc):
            raise ClusterStartError(f"{describe_task(*task)} cannot listen on {cluster[task[0]][task[1]]} "
                                    "(another program holds the port?)") from None
        raise
    return Cluster(strategy, task, cluster, timeout_s)
