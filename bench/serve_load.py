"""Load on `nmtkit serve`: every line of a file as its own request, at several concurrencies.

    .venv/bin/python bench/serve_load.py MODEL_DIR SOURCE_FILE [--concurrency 1,8,32] [--requests N]

Starts the server on a free 127.0.0.1 port, waits for /ready, then for each concurrency C runs a
closed loop of C clients (each sends its next line when its last answer arrives) over the first
N lines (default: all), and prints sentences/s, latency p50 / p95 / p99, errors, and the
server's peak memory. Beside it: `nmtkit translate` on the same lines in batch mode (the whole
command, start-up included, and its peak memory), the throughput a server is measured against.
Loopback only; every loop is bounded by N requests and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NMTKIT = [sys.executable, "-m", "nmtkit.cli"]


def cpu() -> str:
    names = re.findall(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()) or [platform.processor()]
    flags = Path("/proc/cpuinfo").read_text()
    isa = "AVX-512 BF16" if "avx512_bf16" in flags else "AVX2" if "avx2" in flags else "?"
    return f"{names[0]} x {len(names)} ({isa})"


def peak_mib(pid: int) -> float:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024


def post(url: str, line: str) -> tuple[float, bool]:
    began = time.perf_counter()
    request = urllib.request.Request(url, data=json.dumps({"text": [line]}).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            ok = response.status == 200 and len(json.loads(response.read())["translations"]) == 1
    except OSError:
        ok = False
    return time.perf_counter() - began, ok


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load(url: str, lines: list[str], concurrency: int) -> dict:
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda line: post(url, line), lines))
    seconds = time.perf_counter() - began
    latencies = [s for s, _ in results]
    return {"concurrency": concurrency, "sentences_per_s": len(lines) / seconds, "seconds": seconds,
            "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99), "errors": sum(not ok for _, ok in results)}


def batch_translate(model: Path, lines: list[str]) -> tuple[float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as source:
        source.write("".join(line + "\n" for line in lines))
        source.flush()
        # In a parent of its own, whose children's peak memory is the translate command's alone.
        measure = ("import resource, subprocess, sys, time; began = time.perf_counter(); "
                   "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
                   "print(time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        with open(source.name, encoding="utf-8") as stdin:
            out = subprocess.run([sys.executable, "-c", measure, *NMTKIT, "translate", "-m", str(model), "--quiet"],
                                 stdin=stdin, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    seconds, kib = out.split()
    return float(seconds), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=0, help="Lines sent per concurrency; 0 = all.")
    args = parser.parse_args()
    lines = [line.rstrip("\n") for line in args.source.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line.strip()][: args.requests or None]
    print(f"CPU: {cpu()}; {len(lines)} requests of one sentence each; model {args.model}")

    server = subprocess.Popen([*NMTKIT, "serve", "-m", str(args.model), "--port", "0"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    try:
        base = re.search(r"http://\S+", server.stderr.readline()).group(0)
        started = time.perf_counter()
        while True:
            try:
                if urllib.request.urlopen(base + "/ready", timeout=5).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        print(f"server ready in {time.perf_counter() - started:.1f} s after it listened")
        rows = [load(base + "/v1/translate", lines, int(c)) for c in args.concurrency.split(",")]
        peak = peak_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    seconds, batch_peak = batch_translate(args.model, lines)
    batch_rate = len(lines) / seconds
    print(f"{'concurrency':>11} {'sent/s':>8} {'x batch':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in rows:
        print(f"{r['concurrency']:>11} {r['sentences_per_s']:>8.1f} {r['sentences_per_s'] / batch_rate:>8.2f} "
              f"{r['p50'] * 1000:>8.1f} {r['p95'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} {r['errors']:>6}")
    print(f"server peak memory: {peak:.0f} MiB")
    print(f"nmtkit translate, batch mode, the same {len(lines)} lines: {seconds:.2f} s for the whole command "
          f"({batch_rate:.1f} sent/s), peak {batch_peak:.0f} MiB")


if __name__ == "__main__":
    main()
