"""`precision: auto`: bfloat16 arithmetic only where the hardware computes it natively.

bfloat16 halves the bytes every product moves and, on CPUs with AVX-512 BF16 (or AMX) and
on GPUs from Ampere on, doubles the products per cycle: training and search run faster. A CPU
without those instructions emulates it (converting to float32 and back around every product),
and then bfloat16 is the slower choice: on a 2-core AVX2 EPYC the reference model trained at
395 target tokens/s in mixed_bfloat16 against 980 in float32. `auto` chooses per machine, when
a run starts, so a recipe or model directory moved to another machine does the right thing.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from nmtkit.cpu import BF16_FLAGS, onednn_flags

GPU_BF16_CAPABILITY = (8, 0)  # Ampere: the first NVIDIA GPUs with bfloat16 tensor cores


@functools.cache
def native_bfloat16() -> bool:
    """Whether this machine's training and search devices compute bfloat16 natively (a CPU:
    AVX-512 BF16 or AMX that oneDNN may use; none where /proc/cpuinfo is missing, so `auto` is
    float32 on macOS and Windows)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
        return all(tuple(d.get("compute_capability", (0, 0))) >= GPU_BF16_CAPABILITY for d in details)
    return bool(onednn_flags() & BF16_FLAGS)


def dtype_policy(precision: str) -> str:
    """The Keras dtype policy of `train.precision`, `translate.precision` or `--precision`:
    auto is mixed_bfloat16 where native, else float32; translation's "bfloat16" is
    mixed_bfloat16 (bfloat16 arithmetic on the float32 weights); the rest are policy names."""
    if precision == "auto":
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    return "mixed_bfloat16" if precision == "bfloat16" else precision


def inference_policy(precision: str) -> str:
    """The Keras dtype policy a model translates in: `dtype_policy`'s, but bfloat16 weights where
    the arithmetic is bfloat16. Mixed precision casts its float32 weights to bfloat16 at every
    use, so a translation with bfloat16 weights gives the same outputs while holding half the
    weights and no per-call copies (reference model: 25 MiB less held, 28 MiB less at the peak
    of a test-set translation)."""
    policy = dtype_policy(precision)
    return "bfloat16" if policy == "mixed_bfloat16" else policy
