"""Where training runs: the CPU, one GPU, several GPUs, or several hosts (tf.distribute).

`auto` uses every GPU TensorFlow sees (MirroredStrategy when there are several) and the CPU when
there is none; `cpu` hides the GPUs; `gpu` insists on one. With `TF_CONFIG` in the environment
(the standard cluster description) training runs on several hosts with
MultiWorkerMirroredStrategy, each host starting the same command.
"""

from __future__ import annotations

import os

import tensorflow as tf

from nmtkit.errors import UsageError


def training_strategy(device: str) -> tf.distribute.Strategy:
    """The distribution strategy for `device` (auto | cpu | gpu); call before building a model."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
        gpus = []
    elif device == "gpu" and not gpus:
        raise UsageError("train.device is gpu, but TensorFlow sees no GPU (is the gpu extra installed?)")
    if "TF_CONFIG" in os.environ:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
