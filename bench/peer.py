"""What the benchmarks compare: this machine's CPU, and the peer's figures from its own logs.

The peer is OpenNMT-py run by ../shared/peers/onmt/run_onmt_multi30k.sh on the same machine in
the same sitting; its WORK folder holds the logs read here. Token counts are like nmtkit's:
target subwords plus one EOS per sentence. Speeds come in two spans: over the training steps
(the mean of OpenNMT-py's logged report windows) and over the whole training process (all
target tokens / the process's wall clock, start-up, validations and saves included).
"""

from __future__ import annotations

import os
import re
import statistics
from pathlib import Path

from nmtkit.cpu import BF16_FLAGS, matrix_library


def describe_cpu() -> str:
    """The CPU model, cores, and the ISA that decides bfloat16 and oneDNN's kernels."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())  # the first core's
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    # A virtual machine may name only the vendor ("AMD EPYC"): family and model tell the generation.
    model = (f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} "
             f"model {fields.get('model', '?')})")
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    native = sorted(BF16_FLAGS & flags)
    bf16 = f"native bfloat16 ({', '.join(native)})" if native else "no native bfloat16"
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    limited = f"; ONEDNN_MAX_CPU_ISA={limit}" if limit else ""
    return f"{model}, {os.cpu_count()} cores, {isa}, {bf16}{limited}; matrix products: {matrix_library()}"


def wall_seconds(time_v: str) -> float:
    """The wall clock of GNU `time -v`'s report, in seconds."""
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", time_v)[1]
    return sum(float(x) * 60 ** i for i, x in enumerate(reversed(clock.split(":"))))


def _peak_mib(time_v: str) -> float:
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_v)[1]) / 1024


def peer_training(work: Path) -> dict:
    """The peer's training: target tokens/s (EOS included) over its steps and over its whole
    process, steps, epochs and peak MiB."""
    text = (work / "run" / "train.err").read_text(encoding="utf-8", errors="replace")
    windows = [int(m) for m in re.findall(r"; \d+/(\d+) tok/s;", text)]
    done = re.search(r"Training loop done: (\d+) steps, ([\d.]+) s since process start; total sents (\d+), "
                     r"total src tokens \d+, total tgt tokens (\d+)", text)
    if not windows or not done:
        raise SystemExit(f"{work}/run/train.err: not a finished run of run_onmt_multi30k.sh")
    steps, sentences, tokens = int(done[1]), int(done[3]), int(done[4])
    wall = wall_seconds(text)
    return {"steps_tokens_per_s": statistics.mean(windows), "process_tokens_per_s": tokens / wall,
            "steps": steps, "epochs": sentences / 29000, "process_s": wall, "peak_mib": _peak_mib(text)}


def peer_translation(work: Path) -> dict:
    """Per beam (1, 5): the median over the peer script's three timed runs (batch 64) of its
    search loop seconds (OpenNMT-py's "Total translation time"), whole-command seconds and peak
    MiB."""
    found = {}
    for beam in (1, 5):
        runs = []
        for folder in (work / "run", work / "run" / "rep2", work / "run" / "rep3"):
            text = (folder / f"translate.beam{beam}.err").read_text(encoding="utf-8", errors="replace")
            log = (folder / f"translate.beam{beam}.log").read_text(encoding="utf-8", errors="replace")
            loop = re.search(r"Total translation time \(s\): ([\d.]+)", log + text)
            runs.append({"loop": float(loop[1]), "command": wall_seconds(text), "peak_mib": _peak_mib(text)})
        found[beam] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return found
