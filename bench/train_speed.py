"""Training speed of each recurrent cell and attention variant at the reference recipe's shapes.

    .venv/bin/python bench/train_speed.py [--data PREPARED] [--steps N] [--precision P] [--only NAME]
                                          [--batch-tokens N] [--peer WORK]

Runs the compiled training step of `nmtkit train` on real Multi30k batches (64 sentences from
length-sorted buckets, as in training) for each variant of the reference recipe and prints target
tokens/s and the share of the CPU's fp32 peak that it reaches. PREPARED is a prepared-data
folder of the reference recipe (default: the one `bench/multi30k.sh` writes).

FLOPs are counted as 6 per weight use (2 forward, 4 backward): each non-embedding weight of the
decoder and the output layer is used once per target token, each encoder weight once per source
token; attention scores over the source add 6 x units per source position per target token.
The peak is cores x 32 fp32 FLOPs/cycle (AVX-512 FMA on Zen 4) x the clock /proc/cpuinfo reports.

`--peer WORK`: the WORK folder of ../shared/peers/onmt/run_onmt_multi30k.sh run on this machine
in this sitting; "x peer" divides by its target tokens/s over its training steps (EOS included,
as here). Whole-run figures (start-up, validations, saves) come from `bench/multi30k.sh`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nmtkit.native_stderr import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402

from nmtkit.config import load_recipe  # noqa: E402
from nmtkit.data.batching import batches  # noqa: E402
from nmtkit.data.prepared import load_split, load_vocabs  # noqa: E402
from nmtkit.models.seq2seq import build_model  # noqa: E402
from nmtkit.precision import dtype_policy  # noqa: E402
from nmtkit.training import Trainer  # noqa: E402
from peer import describe_cpu, peer_training  # noqa: E402

VARIANTS = {  # name -> recipe overrides of the model section
    "reference (lstm, luong_general, input feeding)": {},
    "lstm, luong_general, no input feeding": {"input_feeding": False},
    "lstm, luong_dot, input feeding": {"attention": "luong_dot"},
    "lstm, luong_concat, input feeding": {"attention": "luong_concat"},
    "lstm, bahdanau": {"attention": "bahdanau", "input_feeding": False},
    "lstm, no attention": {"attention": "none", "input_feeding": False},
    "gru, luong_general, input feeding": {"encoder_cell": "gru", "decoder_cell": "gru"},
    "rnn, luong_general, input feeding": {"encoder_cell": "rnn", "decoder_cell": "rnn"},
}


def peak_flops() -> float:
    mhz = max(float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz"))
    return os.cpu_count() * 32 * mhz * 1e6


def flops_per_step(model, src, tgt) -> float:
    """6 FLOPs per weight use, per the module docstring."""
    def weights(layer):
        return sum(int(np.prod(w.shape)) for w in layer.weights)

    dec = model.decoder
    decoder_weights = sum(weights(r) for r in dec.rnns) + dec.output_bias.shape[0] + (
        0 if dec.tie_embeddings else int(np.prod(dec.output_kernel.shape)))
    if dec.attention is not None:
        decoder_weights += int(np.prod(dec.combine_kernel.shape)) + weights(dec.attention)
    encoder_weights = sum(weights(r) for r in model.encoder.rnns)
    src_tokens, tgt_tokens = float((src != 0).sum()), float((tgt != 0).sum())
    attention = dec.units * tgt_tokens * src.shape[1] if dec.attention is not None else 0.0
    return 6 * (decoder_weights * tgt_tokens + encoder_weights * src_tokens + attention)


def measure(recipe, overrides, data, steps: int, warmup: int):
    config = dataclasses.replace(recipe.model, **overrides)
    src_vocab, tgt_vocab = load_vocabs(data)
    model = build_model(config, len(src_vocab), len(tgt_vocab), dtype_policy(recipe.train.precision))
    trainer = Trainer(model, recipe.train)
    split = load_split(data, "train")
    stream = batches(split.src, split.tgt, recipe.train.batch_size, np.random.default_rng(0),
                     recipe.train.batch_tokens)
    rate = recipe.train.learning_rate
    for _ in range(warmup):  # tracing and the first, slow calls
        trainer.train_step(next(stream), rate)
    tokens = flops = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(stream)
        _, batch_tokens = trainer.train_step(batch, rate)
        tokens += float(batch_tokens)
        flops += flops_per_step(model, batch.src, batch.tgt_out)
    seconds = time.perf_counter() - start
    return tokens / seconds, flops / seconds, model.count_params()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="recipes/multi30k-de-en.yaml")
    parser.add_argument("--data", default="runs/bench-multi30k-de-en/data")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"))
    parser.add_argument("--only", help="run the variants whose name contains this")
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="batches of up to this many padded tokens instead of the recipe's sentences")
    parser.add_argument("--peer", type=Path, help="the WORK folder of a peer run on this machine")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "train.src.ids.npy").is_file():
        sys.exit(f"train_speed: no prepared data in {data}: run bench/multi30k.sh or nmtkit preprocess")
    overrides = [f"train.precision={args.precision}"] if args.precision else []
    overrides += [f"train.batch_tokens={args.batch_tokens}"] if args.batch_tokens else []
    recipe = load_recipe(args.recipe, overrides)
    peak = peak_flops()
    batching = (f"batches of up to {recipe.train.batch_tokens} tokens" if recipe.train.batch_tokens
                else f"batch {recipe.train.batch_size}")
    peer = peer_training(args.peer)["steps_tokens_per_s"] if args.peer else None
    print(f"CPU: {describe_cpu()}")
    print(f"{dtype_policy(recipe.train.precision)}, {batching}, {args.steps} steps after "
          f"{args.warmup} warm-up; fp32 peak {peak / 1e9:.0f} GFLOP/s; "
          + (f"peer {peer:,.0f} tok/s over its steps ({args.peer})" if peer else "no --peer WORK"))
    print(f"{'variant':<48} {'params':>11} {'tgt tok/s':>10} {'x peer':>7} {'% peak':>7}")
    for name, model_overrides in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        tokens_per_s, flops_per_s, params = measure(recipe, model_overrides, data, args.steps, args.warmup)
        versus = f"{tokens_per_s / peer:.2f}" if peer else ""
        print(f"{name:<48} {params:>11,} {tokens_per_s:>10,.0f} {versus:>7} "
              f"{100 * flops_per_s / peak:>6.1f}%", flush=True)


if __name__ == "__main__":
    main()
