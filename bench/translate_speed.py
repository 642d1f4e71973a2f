"""Translation speed of the reference model: greedy, beam 5 and beam 10 at batch sizes 1 to 128.

    .venv/bin/python bench/translate_speed.py [--model DIR] [--src FILE] [--ref FILE]
                                              [--precision auto,float32,bfloat16] [--beams 1,5,10]
                                              [--batches 1,16,64,128] [--peer WORK]

Defaults: the model and test_2016_flickr files that `bench/multi30k.sh DATA 25` leaves in
runs/bench-multi30k-de-en. Each setting runs in a fresh process (so peak memory is its own):
it loads the model, translates the first batch once to build the search graph, then times the
translation of every line ("loop": what the peer's loop figure measures) and scores it (BLEU,
sacrebleu defaults). Then the whole `nmtkit translate` command is timed for beam 5 at the
recipe's batch size (128), imports and graph building included, with its peak memory.

Peer figures (OpenNMT-py, batch 64): by default those of ../shared/docs/reference-figures.md
(measured on a 2-core Zen 4 EPYC); `--peer WORK` reads them from a run of
../shared/peers/onmt/run_onmt_multi30k.sh on this machine (its WORK folder: three timed runs
of each search, the median is shown), the comparison to make on any other CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "bench-multi30k-de-en"
PEER = {  # OpenNMT-py 3.5.1, reference recipe, batch 64, on a 2-core Zen 4 EPYC
    1: {"loop": 3.1, "command": 7.2, "peak_mib": 500},
    5: {"loop": 8.3, "command": 12.1, "peak_mib": 500},
}


def peer_on_this_machine(work: Path) -> dict:
    """Per beam: median loop seconds (OpenNMT-py's "Total translation time"), whole-command
    seconds and peak MiB (GNU time) over the peer script's three timed runs."""
    found = {}
    for beam in (1, 5):
        runs = []
        for folder in (work / "run", work / "run" / "rep2", work / "run" / "rep3"):
            text = (folder / f"translate.beam{beam}.err").read_text(encoding="utf-8", errors="replace")
            clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)[1]
            runs.append({"loop": float(re.search(r"Total translation time \(s\): ([\d.]+)", text)[1]),
                         "command": sum(float(x) * 60 ** i for i, x in enumerate(reversed(clock.split(":")))),
                         "peak_mib": int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)[1]) / 1024})
        found[beam] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return found


def measure_one(model: str, src: str, ref: str, beam: int, batch: int, precision: str) -> dict:
    """Runs inside the child process: one setting, timed after a warm-up batch."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from nmtkit.native_stderr import import_tensorflow_quietly

    import_tensorflow_quietly()
    from nmtkit.scoring.metrics import ScoreOptions
    from nmtkit.translate import Translator

    lines = Path(src).read_text(encoding="utf-8").splitlines()
    translator = Translator([model], {"beam_size": beam, "batch_size": batch, "precision": precision})
    translator.translate(lines[:batch])
    began = time.perf_counter()
    found = translator.translate(lines)
    seconds = time.perf_counter() - began
    hyps = [t.text for t in found]
    refs = Path(ref).read_text(encoding="utf-8").splitlines()
    bleu = ScoreOptions().bleu().corpus_score(hyps, [refs]).score
    return {"seconds": seconds, "sentences": len(lines),
            "tokens": sum(len(t.candidates[0].pieces) + 1 for t in found if t.candidates),
            "bleu": bleu, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def whole_command(model: str, src: str) -> tuple[float, float]:
    """Seconds and peak MiB of `nmtkit translate --beam 5` over `src` (GNU time's maximum RSS),
    with the model's own settings otherwise (the recipe's batch size and precision)."""
    began = time.perf_counter()
    with open(src, "rb") as stdin:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", str(ROOT / ".venv" / "bin" / "nmtkit"), "translate",
                               "--model", model, "--beam", "5"],
                              stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    seconds = time.perf_counter() - began
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(RUN / "model"))
    parser.add_argument("--src", default=str(RUN / "test.de"))
    parser.add_argument("--ref", default=str(RUN / "test.en"))
    parser.add_argument("--precision", default="float32,bfloat16")
    parser.add_argument("--beams", default="1,5,10")
    parser.add_argument("--batches", default="1,16,64,128")
    parser.add_argument("--peer", type=Path, help="the WORK folder of a peer run on this machine")
    parser.add_argument("--one", nargs=3, metavar=("BEAM", "BATCH", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        beam, batch, precision = int(args.one[0]), int(args.one[1]), args.one[2]
        print(json.dumps(measure_one(args.model, args.src, args.ref, beam, batch, precision)))
        return

    lines = len(Path(args.src).read_text(encoding="utf-8").splitlines())
    peer = peer_on_this_machine(args.peer) if args.peer else PEER
    print(f"model {args.model}; {args.src}; {os.cpu_count()} cores of this CPU")
    for beam, p in peer.items():
        print(f"peer ({args.peer or 'reference-figures.md, Zen 4'}), beam {beam}, batch 64: loop {p['loop']:.2f} s "
              f"({lines / p['loop']:.0f} sent/s); whole command {p['command']:.2f} s ({lines / p['command']:.0f} "
              f"sent/s); peak {p['peak_mib']:.0f} MiB")
    print(f"{'precision':<9} {'beam':>4} {'batch':>5} {'seconds':>8} {'sent/s':>7} {'tok/s':>7} {'BLEU':>6} "
          f"{'peak MiB':>8} {'x peer loop':>11}")
    for precision in args.precision.split(","):
        for beam in map(int, args.beams.split(",")):
            for batch in map(int, args.batches.split(",")):
                child = subprocess.run(
                    [sys.executable, __file__, "--model", args.model, "--src", args.src, "--ref", args.ref,
                     "--one", str(beam), str(batch), precision],
                    capture_output=True, text=True, check=True)
                r = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"{precision:<9} {beam:>4} {batch:>5} {r['seconds']:>8.2f} "
                      f"{r['sentences'] / r['seconds']:>7.0f} {r['tokens'] / r['seconds']:>7.0f} "
                      f"{r['bleu']:>6.2f} {r['peak_mib']:>8.0f} {versus(peer, beam, r['seconds'], 'loop'):>11}",
                      flush=True)
    seconds, peak = whole_command(args.model, args.src)
    print(f"whole command (nmtkit translate --beam 5, the recipe's batch and precision): {seconds:.2f} s "
          f"({lines / seconds:.0f} sent/s; {versus(peer, 5, seconds, 'command')} the peer's), "
          f"peak {peak:.0f} MiB", flush=True)


def versus(peer: dict, beam: int, seconds: float, kind: str) -> str:
    """How many times the peer's time (at the same beam) `seconds` is, as "2.05x"; "" if unknown."""
    return f"{peer[beam][kind] / seconds:.2f}x" if beam in peer else ""


if __name__ == "__main__":
    main()
