"""Where training runs: the CPU, one GPU, several GPUs, or several workers (tf.distribute).

`auto` uses every GPU TensorFlow sees (MirroredStrategy when there are several) and the CPU when
there is none; `cpu` hides the GPUs; `gpu` insists on one. With `TF_CONFIG` in the environment
(the standard cluster description) each worker runs the same command under
MultiWorkerMirroredStrategy (`nmtkit.cluster`), with every GPU of its host or its CPU.
"""

from __future__ import annotations

import os

import tensorflow as tf

from nmtkit.cluster import DEFAULT_TIMEOUT_S, Cluster, join_cluster, local_cluster
from nmtkit.errors import UsageError


def training_cluster(device: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Cluster:
    """The workers and distribution strategy for `device` (auto | cpu | gpu); call before building
    a model. `timeout_s`: how long a worker of a multi-worker run waits for a silent peer."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
        gpus = []
    elif device == "gpu" and not gpus:
        raise UsageError("train.device is gpu, but TensorFlow sees no GPU (is the gpu extra installed?)")
    if "TF_CONFIG" in os.environ:
        return join_cluster(timeout_s)
    if len(gpus) > 1:
        return local_cluster(tf.distribute.MirroredStrategy())
    return local_cluster(tf.distribute.get_strategy())


def training_strategy(device: str) -> tf.distribute.Strategy:
    """The distribution strategy alone (see `training_cluster`)."""
    return training_cluster(device).strategy
