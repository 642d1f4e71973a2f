"""What every command does before its work: TensorFlow's settings and a lean import."""

import os
import subprocess
import sys

PROBE = """
import os, sys
from nmtkit.native_stderr import import_tensorflow_quietly
import_tensorflow_quietly()
from tensorflow.python.util import _pywrap_util_port
print(os.environ["TF_ENABLE_ONEDNN_OPTS"], _pywrap_util_port.IsMklEnabled(), "matplotlib" in sys.modules)
import tensorflow as tf
tf.zeros([1000])  # TensorFlow counts the CPU tensors it holds only when they come from its BFC pool
print(tf.config.experimental.get_memory_info("CPU:0")["peak"] > 0)
from nmtkit.figures import pyplot
print(pyplot().get_backend())
"""


def probe(**env) -> list[str]:
    ours = ("TF_ENABLE_ONEDNN_OPTS", "TF_CPU_ALLOCATOR_USE_BFC")
    environment = {k: v for k, v in os.environ.items() if k not in ours} | env
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment,
                          check=True)
    return done.stdout.split()


def test_onednn_and_the_tensor_pool_are_on_and_matplotlib_waits_until_a_figure_needs_it():
    onednn, enabled, matplotlib_loaded, pooled, backend = probe()
    assert (onednn, enabled, matplotlib_loaded) == ("1", "True", "False")
    assert pooled == "True"
    assert backend.lower() == "agg"


def test_a_user_can_keep_onednn_off():
    onednn, enabled, *_ = probe(TF_ENABLE_ONEDNN_OPTS="0")
    assert (onednn, enabled) == ("0", "False")


def test_a_user_can_keep_tensors_off_the_pool():
    assert probe(TF_CPU_ALLOCATOR_USE_BFC="false")[3] == "False"
