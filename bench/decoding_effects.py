"""BLEU effect of checkpoint averaging, length normalisation and beam size on Multi30k.

    .venv/bin/python bench/decoding_effects.py [--run runs/bench-multi30k-de-en] [--data DIR]
                                               [--last 5] [--alphas 0,0.6,1.0] [--beams 5,10] [--val-only]

RUN is what `bench/multi30k.sh` leaves (its model must keep checkpoints: run it with
NMTKIT_SET="train.valid_every=250 train.keep_checkpoints=8"). The script writes RUN/averaged (the
mean of the last K checkpoints, `nmtkit average`) and prints validation and test_2016_flickr
BLEU / chrF (sacrebleu defaults) for the best-validation model and the averaged one at each beam
size and length-penalty alpha. Choose settings on the validation columns only (`--val-only`
leaves the test set alone).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(ROOT))

from nmtkit.native_stderr import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

from sacrebleu.metrics import CHRF  # noqa: E402

from nmtkit.averaging import average_checkpoints  # noqa: E402
from nmtkit.scoring.metrics import ScoreOptions  # noqa: E402
from nmtkit.translate import Translator  # noqa: E402


def read(folder: Path, prefix: str, lang: str) -> list[str]:
    plain, packed = folder / f"{prefix}.{lang}", folder / f"{prefix}.{lang}.gz"
    if plain.exists():
        return plain.read_text(encoding="utf-8").splitlines()
    with gzip.open(packed, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(ROOT / "runs" / "bench-multi30k-de-en"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "multi30k"))
    parser.add_argument("--src", default="de")
    parser.add_argument("--tgt", default="en")
    parser.add_argument("--last", type=int, default=5)
    parser.add_argument("--alphas", default="0,0.6,1.0")
    parser.add_argument("--beams", default="5,10")
    parser.add_argument("--val-only", action="store_true",
                        help="leave test_2016_flickr alone (while tuning: report test once, at the end)")
    args = parser.parse_args()
    run, data = Path(args.run), Path(args.data)
    averaged = run / "averaged"
    average_checkpoints(run / "model", averaged, args.last, overwrite=True)
    splits = (("val", "val"),) if args.val_only else (("val", "val"), ("test", "test_2016_flickr"))
    sets = {name: (read(data, prefix, args.src), read(data, prefix, args.tgt)) for name, prefix in splits}
    bleu, chrf = ScoreOptions().bleu(), CHRF()
    print(f"{'model':<26} {'beam':>4} {'alpha':>5}  " + "  ".join(f"{name + ' BLEU/chrF':>14}" for name in sets))
    for label, model in (("best validation loss", run / "model"), (f"average of last {args.last}", averaged)):
        for beam in map(int, args.beams.split(",")):
            for alpha in map(float, args.alphas.split(",")):
                translator = Translator([model], {"beam_size": beam, "length_penalty": alpha})
                cells = []
                for src, ref in sets.values():
                    hyps = [t.text for t in translator.translate(src)]
                    cells.append(f"{bleu.corpus_score(hyps, [ref]).score:5.2f} / {chrf.corpus_score(hyps, [ref]).score:5.2f}")
                print(f"{label:<26} {beam:>4} {alpha:>5.2f}  " + "  ".join(f"{c:>14}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
