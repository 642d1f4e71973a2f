"""Does a Neural Turing Machine generalise beyond its training lengths where an LSTM does not?
Graves, Wayne and Danihelka 2014, section 4: copy, repeat copy and associative recall.

    .venv/bin/python bench/ntm_tasks.py [--tasks copy,repeat_copy,associative_recall]
        [--models ntm,lstm] [--seeds 1,2,3] [--sequences N] [--max-minutes M] [--parallel 2]
        [--test-sequences 100] [--out runs/bench-ntm-tasks] [--reuse]

Trains recipes/{task}-{model}.yaml once per seed (`nmtkit train` in a child process, `--parallel`
of them at once with one thread each: the tasks' small steps keep one core busy each), then counts
bit errors on random sequences longer than any seen in training (the same sequences for every
model and seed). For each task it prints one table: per test case, the median over seeds of the
mean bit errors per sequence with the median share of perfect sequences, and every seed's mean.
It writes OUT/{task}/curves.png (training cost against sequences seen, every run) and
OUT/{task}/heads.png (the first NTM seed's write and read weightings on one longer example, drawn
as `nmtkit task heads` draws them), and OUT/{task}/results.json.
`--reuse` evaluates runs already in OUT instead of training them again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(ROOT))

from nmtkit.native_stderr import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nmtkit.figures import pyplot, save_png  # noqa: E402
from nmtkit.ntm_heads import plot_heads, trace_heads  # noqa: E402
from nmtkit.task_training import evaluate, load_task_model, make_task  # noqa: E402


@dataclass(frozen=True)
class Case:
    length: int  # sequence length; associative_recall: items
    repeats: int | None = None  # repeat_copy only

    def __str__(self) -> str:
        return f"{self.length} x {self.repeats}" if self.repeats else str(self.length)


@dataclass(frozen=True)
class TaskBench:
    recipe_stem: str  # recipes/{recipe_stem}-{model}.yaml
    cases: tuple[Case, ...]  # the first within the training range, then beyond it
    heads_example: Case  # the heads picture's example, beyond the training range


BENCHES = {
    "copy": TaskBench("copy", tuple(Case(n) for n in (20, 40, 60, 80, 100, 120)), Case(60)),
    "repeat_copy": TaskBench("repeat-copy", (Case(10, 5), Case(10, 10), Case(10, 15), Case(10, 20),
                                             Case(15, 10), Case(20, 10)), Case(15, 12)),
    "associative_recall": TaskBench("associative-recall", tuple(Case(n) for n in (6, 8, 10, 12, 15)), Case(12)),
}


def training_range(task) -> str:
    """What a recipe's `task` section trains on, as the table's cases read."""
    if task.name == "repeat_copy":
        return (f"lengths {task.min_length}-{task.max_length} x repeats {task.min_repeats}-{task.max_repeats} "
                "(case: length x repeats)")
    if task.name == "associative_recall":
        return f"{task.min_length}-{task.max_length} items of {task.item_length} vectors (case: items)"
    return f"lengths {task.min_length}-{task.max_length} (case: length)"


def run_dir(out: Path, task: str, model: str, seed: int) -> Path:
    return out / task / f"{model}-seed{seed}"


def train(task: str, model: str, seed: int, args) -> Path:
    """`nmtkit train` of the task's recipe for `model` and `seed`, in a child process (one thread)."""
    where = run_dir(Path(args.out), task, model, seed)
    if args.reuse and (where / "manifest.json").exists():
        return where
    recipe = ROOT / "recipes" / f"{BENCHES[task].recipe_stem}-{model}.yaml"
    command = [sys.executable, "-m", "nmtkit.cli", "train", str(recipe), "--overwrite",
               "--set", f"train.seed={seed}", "--set", f"train.model_dir={where}"]
    if args.sequences:
        command += ["--set", f"train.sequences={args.sequences}"]
    if args.max_minutes:
        command += ["--set", f"train.max_minutes={args.max_minutes}"]
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"{where.name}.log", "w", encoding="utf-8") as log:
        if subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"training {where.name} for {task} failed: see {log.name}")
    manifest = json.loads((where / "manifest.json").read_text())
    print(f"  trained {task} {where.name}: {manifest['sequences']:,} sequences in {manifest['seconds']:.0f} s, "
          f"last cost {manifest['final_bits_per_sequence']:.3f} bits per sequence", file=sys.stderr, flush=True)
    return where


def test(where: Path, cases: tuple[Case, ...], sequences: int) -> list[dict]:
    """The rows of `nmtkit task evaluate` for `cases`, in their order."""
    recipe, network = load_task_model(where)
    rows = {}
    for count in dict.fromkeys(c.repeats for c in cases):
        lengths = [c.length for c in cases if c.repeats == count]
        for row in evaluate(recipe, network, lengths, sequences, repeats=[count] if count else None):
            rows[Case(row["length"], row.get("repeats"))] = row
    return [rows[c] for c in cases]


def plot_curves(task: str, runs: dict[str, list[Path]], path: Path) -> None:
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
    ax.set_title(f"{task}: training cost")
    ax.legend()
    save_png(figure, path)


def print_table(task: str, trained_on: str, seeds: list[int], table: dict[str, list[list[dict]]],
                sequences: int) -> None:
    bench = BENCHES[task]
    print(f"\n{task}, trained on {trained_on}; mean bit errors per sequence over {sequences} "
          f"sequences: median of seeds {','.join(map(str, seeds))} [median % perfect] (each seed)")
    models = list(table)
    print(f"{'case':>8} " + " ".join(f"{m:>40}" for m in models))
    for i, case in enumerate(bench.cases):
        cells = []
        for model in models:
            rows = [per_seed[i] for per_seed in table[model]]
            errors = statistics.median(r["bit_errors"] for r in rows)
            perfect = statistics.median(r["perfect"] for r in rows)
            each = " ".join(f"{r['bit_errors']:.2f}" for r in rows)
            cells.append(f"{errors:.2f} [{perfect:.0f}%] ({each})")
        print(f"{str(case):>8} " + " ".join(f"{c:>40}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(BENCHES))
    parser.add_argument("--models", default="ntm,lstm")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--sequences", type=int, default=0, help="training sequences (default: each recipe's)")
    parser.add_argument("--max-minutes", type=float, default=0, help="training budget per run")
    parser.add_argument("--parallel", type=int, default=max(1, len(os.sched_getaffinity(0))),
                        help="training runs at once (default: one per core)")
    parser.add_argument("--test-sequences", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-ntm-tasks"))
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # not "retracing" warnings: each model gets its own predict function
    tasks, models = args.tasks.split(","), args.models.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    for task in tasks:
        if task not in BENCHES:
            parser.error(f"unknown task {task!r}; choose from {', '.join(BENCHES)}")
        for model in models:
            if not (ROOT / "recipes" / f"{BENCHES[task].recipe_stem}-{model}.yaml").is_file():
                parser.error(f"no recipe for {task} with {model}: recipes/{BENCHES[task].recipe_stem}-{model}.yaml")

    started = time.monotonic()
    jobs = [(task, model, seed) for task in tasks for model in models for seed in seeds]
    with ThreadPoolExecutor(args.parallel) as pool:
        dirs = dict(zip(jobs, pool.map(lambda job: train(*job, args), jobs)))
    print(f"training: {time.monotonic() - started:.0f} s for {len(jobs)} runs, {args.parallel} at a time",
          file=sys.stderr)

    for task in tasks:
        out = Path(args.out) / task
        runs = {model: [dirs[task, model, seed] for seed in seeds] for model in models}
        table = {model: [test(where, BENCHES[task].cases, args.test_sequences) for where in runs[model]]
                 for model in models}
        (out / "results.json").write_text(json.dumps(table, indent=1), encoding="utf-8")
        recipe, _ = load_task_model(runs[models[0]][0])
        print_table(task, training_range(recipe.task), seeds, table, args.test_sequences)
        for model in models:
            manifests = [json.loads((w / "manifest.json").read_text()) for w in runs[model]]
            print(f"{model}: {manifests[0]['parameters']:,} parameters; training "
                  + ", ".join(f"{m['sequences']:,} sequences in {m['seconds']:.0f} s" for m in manifests))
        plot_curves(task, runs, out / "curves.png")
        print(f"training curves: {out / 'curves.png'}")
        if "ntm" in runs:
            recipe, network = load_task_model(runs["ntm"][0])
            example = BENCHES[task].heads_example
            batch = make_task(recipe).batch(np.random.default_rng(0), 1, example.length, example.repeats)
            picture = plot_heads(out / "heads.png", batch, *trace_heads(network, batch.inputs))
            print(f"NTM heads (seed {seeds[0]}) on {task} {example}: {picture}")
    print(f"\nwhole bench: {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
