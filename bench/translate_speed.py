"""Translation speed of the reference model: greedy, beam 5 and beam 10 at batch sizes 1 to 128,
the fixed cost of a `translate` call, and the peer beside them.

    .venv/bin/python bench/translate_speed.py [--model DIR] [--src FILE] [--ref FILE]
                                              [--precision float32,bfloat16] [--beams 1,5,10]
                                              [--batches 1,16,64,128] [--peer WORK]

Defaults: the model and test_2016_flickr files that `bench/multi30k.sh DATA 25` leaves in
runs/bench-multi30k-de-en. Each setting runs in a fresh process (so peak memory is its own):
it loads the model, translates the first batch once to build the search graph, then times the
translation of every line ("loop": what the peer's loop figure measures) and scores it (BLEU,
sacrebleu defaults). Then whole `nmtkit translate` commands are timed with their peak memory:
one sentence (median of 3, the search graph kept in the model directory by an untimed first
call) beside a process that only imports TensorFlow as nmtkit does, so that nmtkit's own fixed
cost shows; and beam 5 over the whole file at nmtkit's default batch size (`translate.batch_size`,
whatever the model's recipe says) and the recipe's precision (median of 3; its peak less the
import's is nmtkit's own share of the memory).

`--peer WORK`: the WORK folder of ../shared/peers/onmt/run_onmt_multi30k.sh run on this
machine in this sitting (three timed runs of each search, batch 64; the median is shown). The
CPU is printed first: a figure from another machine or sitting is context, not a comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import describe_cpu, peer_translation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nmtkit.config import TranslateConfig  # noqa: E402

RUN = ROOT / "runs" / "bench-multi30k-de-en"
NMTKIT = ROOT / ".venv" / "bin" / "nmtkit"
# Imports TensorFlow as nmtkit does and ends the way `nmtkit translate` ends, without Python's
# teardown (nmtkit.cli.common.end_process), so that the difference is nmtkit's own work.
IMPORT_ONLY = ("import os, sys; sys.path.insert(0, sys.argv[1]); "
               "from nmtkit.native_stderr import import_tensorflow_quietly; import_tensorflow_quietly(); os._exit(0)")


def measure_one(model: str, src: str, ref: str, beam: int, batch: int, precision: str) -> dict:
    """Runs inside the child process: one setting, timed after a warm-up batch."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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


def timed(command: list[str], stdin: str | None = None) -> tuple[float, float]:
    """Seconds and peak MiB (GNU time's maximum RSS) of a command, stdin from the file `stdin`."""
    began = time.perf_counter()
    with open(stdin or os.devnull, "rb") as source:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], stdin=source, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - began, int(done.stderr.strip().splitlines()[-1]) / 1024


def fixed_cost(model: str, src: str) -> float:
    """One sentence through the whole `nmtkit translate` command, beside TensorFlow's import;
    returns the import's peak MiB."""
    one = Path(os.environ.get("TMPDIR", "/tmp")) / "nmtkit-translate-speed-one.txt"
    one.write_text(Path(src).read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    command = [str(NMTKIT), "translate", "--model", model, "--quiet"]
    timed(command, str(one))  # keeps the search graph in the model directory, as any first call does
    runs = [timed(command, str(one)) for _ in range(3)]
    imports = [timed([sys.executable, "-c", IMPORT_ONLY, str(ROOT)]) for _ in range(3)]
    seconds, peak = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    tf_seconds, tf_peak = statistics.median(r[0] for r in imports), statistics.median(r[1] for r in imports)
    print(f"one sentence, whole command (median of 3): {seconds:.2f} s, peak {peak:.0f} MiB; importing "
          f"TensorFlow alone: {tf_seconds:.2f} s, {tf_peak:.0f} MiB; nmtkit's own: {seconds - tf_seconds:.2f} s, "
          f"{peak - tf_peak:.0f} MiB", flush=True)
    one.unlink()
    return tf_peak


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
    peer = peer_translation(args.peer) if args.peer else {}
    print(f"CPU: {describe_cpu()}")
    print(f"model {args.model}; {args.src}")
    for beam, p in peer.items():
        print(f"peer ({args.peer}), beam {beam}, batch 64: loop {p['loop']:.2f} s ({lines / p['loop']:.0f} sent/s); "
              f"whole command {p['command']:.2f} s ({lines / p['command']:.0f} sent/s); peak {p['peak_mib']:.0f} MiB")
    if not peer:
        print("no --peer WORK: nmtkit's figures alone (run the peer on this machine to compare)")
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
    import_peak = fixed_cost(args.model, args.src)
    batch = TranslateConfig().batch_size
    runs = [timed([str(NMTKIT), "translate", "--model", args.model, "--beam", "5", "--batch-size", str(batch),
                   "--quiet"], args.src) for _ in range(3)]
    seconds, peak = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print(f"whole command (nmtkit translate --beam 5 --batch-size {batch}, the recipe's precision; median of 3): "
          f"{seconds:.2f} s "
          f"({lines / seconds:.0f} sent/s; {versus(peer, 5, seconds, 'command') or '?'} the peer's), "
          f"peak {peak:.0f} MiB (nmtkit's own: {peak - import_peak:.0f})", flush=True)


def versus(peer: dict, beam: int, seconds: float, kind: str) -> str:
    """How many times the peer's time (at the same beam) `seconds` is, as "2.05x"; "" if unknown."""
    return f"{peer[beam][kind] / seconds:.2f}x" if beam in peer else ""


if __name__ == "__main__":
    main()
