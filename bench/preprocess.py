"""Preprocessing speed and memory at every level, on Multi30k and on 10x / 100x copies of it.

    .venv/bin/python bench/preprocess.py DATA_DIR [--levels char word ...] [--scales 1 10 100]
                                         [--set vocab.input_sentence_size=100000 ...]

DATA_DIR holds Multi30k's {train,val}.{de,en}[.gz]. For each scale the training files are the
corpus concatenated that many times (written once under --work); each level runs
`nmtkit preprocess` (the reference recipe with that level) in a fresh process, timed by
/usr/bin/time. Prints training lines per second (pairs read, both sides tokenized) and peak
RSS: memory must stay roughly flat as the corpus grows, since preprocessing streams; for bpe and
unigram it grows with sentencepiece's training sample up to `vocab.input_sentence_size`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NMTKIT = ROOT / ".venv" / "bin" / "nmtkit"
RECIPE = ROOT / "recipes" / "multi30k-de-en.yaml"
SETTINGS = {  # per level: what the shipped recipes use
    "bpe": ["vocab.type=bpe", "vocab.size=8000"],
    "unigram": ["vocab.type=unigram", "vocab.size=8000"],
    "word": ["vocab.type=word", "vocab.size=0", "vocab.min_freq=2"],
    "whitespace": ["vocab.type=whitespace", "vocab.size=0", "vocab.min_freq=2"],
    "char": ["vocab.type=char", "vocab.size=0"],
}


def read(path: Path) -> bytes:
    gz = path.with_name(path.name + ".gz")
    return gzip.decompress(gz.read_bytes()) if gz.exists() else path.read_bytes()


def make_corpus(data: Path, work: Path, scale: int) -> Path:
    root = work / f"x{scale}"
    if not root.is_dir():
        root.mkdir(parents=True)
        for lang in ("de", "en"):
            text = read(data / f"train.{lang}")
            with open(root / f"train.{lang}", "wb") as out:
                for _ in range(scale):
                    out.write(text)
            (root / f"val.{lang}").write_bytes(read(data / f"val.{lang}"))
    return root


def run(level: str, corpus: Path, work: Path, extra: list[str]) -> tuple[float, float, dict]:
    prepared = work / f"prepared-{level}"
    sets = [f"data.root={corpus}", f"data.prepared={prepared}", *SETTINGS[level], *extra]
    command = ["/usr/bin/time", "-f", "%e %M", str(NMTKIT), "preprocess", str(RECIPE)]
    for kv in sets:
        command += ["--set", kv]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"preprocess failed ({level}, {corpus}): {done.stderr.strip()}")
    seconds, kib = done.stderr.strip().splitlines()[-1].split()
    manifest = json.loads((prepared / "manifest.json").read_text())
    shutil.rmtree(prepared)
    return float(seconds), int(kib) / 1024, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--levels", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 10, 100])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="extra recipe override")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="nmtkit-bench-preprocess-"))
    print(f"{'level':<11} {'scale':>5} {'lines':>10} {'seconds':>8} {'lines/s':>9} {'peak MiB':>9} "
          f"{'vocab src/tgt':>14} {'valid OOV % src/tgt':>20}", flush=True)
    try:
        for scale in args.scales:
            corpus = make_corpus(args.data, work, scale)
            for level in args.levels:
                seconds, mib, manifest = run(level, corpus, work, args.sets)
                lines = manifest["splits"]["train"]["lines"]
                oov = manifest["splits"]["valid"]["oov_rate"]
                vocab = f"{manifest['vocab']['src']}/{manifest['vocab']['tgt']}"
                print(f"{level:<11} {scale:>4}x {lines:>10,} {seconds:>8.1f} {lines / seconds:>9,.0f} {mib:>9.0f} "
                      f"{vocab:>14} {oov['src']:>9.2f}/{oov['tgt']:<9.2f}", flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
