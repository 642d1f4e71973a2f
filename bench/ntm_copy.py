"""Does the NTM generalise to longer copies than it was trained on? (Graves et al. 2014, 4.1)

    .venv/bin/python bench/ntm_copy.py [--models ntm,lstm,attention] [--seeds 1,2,3]
                                       [--sequences N] [--max-minutes M] [--out runs/bench-ntm-copy]

Trains recipes/copy-{model}.yaml (lengths 1-20) once per seed, then counts bit errors on 100
random sequences at each test length (the same sequences for every model). Prints the median
over seeds of the mean bit errors per sequence, with the median share of perfect sequences, and
writes OUT/curves.png (training cost in bits per sequence against sequences seen, every run) and
OUT/heads.png (the first NTM's write and read weightings on one copy of length 30).
`--reuse` evaluates runs already in OUT instead of training them again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(ROOT))

from nmtkit.native_stderr import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402

from nmtkit.config import read_recipe  # noqa: E402
from nmtkit.figures import pyplot, save_png  # noqa: E402
from nmtkit.ntm_heads import plot_heads, trace_heads  # noqa: E402
from nmtkit.task_config import task_recipe_from_dict  # noqa: E402
from nmtkit.task_training import evaluate, load_task_model, make_task, train_task  # noqa: E402

LENGTHS = [10, 20, 30, 40, 60, 80, 120]


def run_dir(out: Path, model: str, seed: int) -> Path:
    return out / f"{model}-seed{seed}"


def train_or_reuse(model: str, seed: int, args) -> Path:
    where = run_dir(Path(args.out), model, seed)
    overrides = [f"train.seed={seed}", f"train.model_dir={where}"]
    if args.sequences:
        overrides.append(f"train.sequences={args.sequences}")
    if args.max_minutes:
        overrides.append(f"train.max_minutes={args.max_minutes}")
    if not (args.reuse and (where / "manifest.json").exists()):
        source = ROOT / "recipes" / f"copy-{model}.yaml"
        recipe = task_recipe_from_dict(read_recipe(source, overrides), str(source))
        manifest = train_task(recipe, overwrite=True)
        print(f"  trained {where.name}: {manifest['sequences']:,} sequences in {manifest['seconds']:.0f} s, "
              f"last cost {manifest['final_bits_per_sequence']:.3f} bits per sequence", file=sys.stderr)
    return where


def plot_curves(runs: dict[str, list[Path]], path: Path) -> None:
    figure, ax = pyplot().subplots(figsize=(8, 5))
    colours = {"ntm": "tab:blue", "lstm": "tab:orange", "attention": "tab:green"}
    for model, dirs in runs.items():
        for i, where in enumerate(dirs):
            records = [json.loads(line) for line in (where / "metrics.jsonl").open()]
            ax.plot([r["sequences"] for r in records], [r["bits_per_sequence"] for r in records],
                    color=colours.get(model), alpha=0.8, label=model if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("sequences seen")
    ax.set_ylabel("cost, bits per sequence")
    ax.set_title("copy task: training cost")
    ax.legend()
    save_png(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ntm,lstm,attention")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--sequences", type=int, default=0, help="training sequences (default: the recipe's)")
    parser.add_argument("--max-minutes", type=float, default=0, help="training budget per run")
    parser.add_argument("--test-sequences", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-ntm-copy"))
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    models, seeds = args.models.split(","), [int(s) for s in args.seeds.split(",")]
    lengths = [int(n) for n in args.lengths.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    runs, table = {}, {}
    for model in models:
        runs[model] = [train_or_reuse(model, seed, args) for seed in seeds]
        per_seed = []
        for where in runs[model]:
            recipe, network = load_task_model(where)
            per_seed.append(evaluate(recipe, network, lengths, args.test_sequences))
        table[model] = per_seed
        (out / f"{model}.json").write_text(json.dumps(per_seed, indent=1), encoding="utf-8")

    task = recipe.task
    print(f"copy task, trained on lengths {task.min_length}-{task.max_length}; median over seeds {args.seeds} "
          f"of the mean bit errors per sequence over {args.test_sequences} sequences [median % perfect]")
    print(f"{'length':>6} " + " ".join(f"{m:>18}" for m in models))
    for i, length in enumerate(lengths):
        cells = []
        for model in models:
            errors = statistics.median(rows[i]["bit_errors"] for rows in table[model])
            perfect = statistics.median(rows[i]["perfect"] for rows in table[model])
            cells.append(f"{errors:>10.2f} [{perfect:>3.0f}%]")
        print(f"{length:>6} " + " ".join(f"{c:>18}" for c in cells))
    for model in models:
        manifests = [json.loads((w / "manifest.json").read_text()) for w in runs[model]]
        print(f"{model}: {manifests[0]['parameters']:,} parameters; training "
              + ", ".join(f"{m['sequences']:,} sequences in {m['seconds']:.0f} s" for m in manifests))
    plot_curves(runs, out / "curves.png")
    print(f"training curves: {out / 'curves.png'}")
    if "ntm" in runs:
        recipe, network = load_task_model(runs["ntm"][0])
        batch = make_task(recipe).batch(np.random.default_rng(0), 1, 30)
        print(f"NTM heads on a copy of length 30: {plot_heads(out / 'heads.png', batch, *trace_heads(network, batch.inputs))}")


if __name__ == "__main__":
    main()
