"""What this machine's CPU offers TensorFlow's kernels, read from /proc/cpuinfo without importing
TensorFlow.

`ONEDNN_MAX_CPU_ISA` caps what oneDNN (TensorFlow's x86 kernels for products) may use, and nmtkit
follows the cap: an AVX-512 BF16 machine run with `ONEDNN_MAX_CPU_ISA=AVX2` chooses float32 for
`precision: auto`, as an AVX2 machine does, and so measures what one would.
"""

from __future__ import annotations

import os
from pathlib import Path

BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # /proc/cpuinfo names of native bfloat16 products


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is missing (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def onednn_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's flags less those above `ONEDNN_MAX_CPU_ISA` (e.g. AVX2: no AVX-512 or AMX;
    AVX512_CORE: no bfloat16 products)."""
    flags = cpu_flags(cpuinfo)
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if cap in ("ALL", "DEFAULT", ""):
        return flags
    if "512" not in cap and "AMX" not in cap:
        return {f for f in flags if not f.startswith(("avx512", "amx"))}
    if "BF16" not in cap and "AMX" not in cap and "FP16" not in cap:
        return flags - BF16_FLAGS
    return flags


def matrix_library() -> str:
    """Which library multiplies matrices in this process (nmtkit turns oneDNN on, see
    nmtkit/__init__.py, unless the environment says `TF_ENABLE_ONEDNN_OPTS=0`)."""
    return "Eigen" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" else "oneDNN"
