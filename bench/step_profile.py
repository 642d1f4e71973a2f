"""Where one training step of the reference recipe spends its time.

    .venv/bin/python bench/step_profile.py [--data PREPARED] [--precision P] [--batches N]

Times, on the same real batches (64 sentences from length-sorted buckets, as in training), the
compiled training step and its parts, each a tf.function of its own run after a warm-up:

    step          the whole update (`Trainer.train_step`)
    gradients     forward and backward without the optimizer
    forward       the forward pass and the loss
    encoder       the encoder, forward and backward
    output+loss   the output layer and the loss, forward and backward (on random decoder outputs)

and from them: the optimizer (step - gradients), the backward pass (gradients - forward), and
the decoder's recurrence with attention, forward and backward (gradients - encoder - output+loss).
NMTKIT_ROOT=DIR profiles the nmtkit source tree in DIR instead of this one (a before / after).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(os.environ.get("NMTKIT_ROOT", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nmtkit.native_stderr import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nmtkit.config import load_recipe  # noqa: E402
from nmtkit.data.batching import batches  # noqa: E402
from nmtkit.data.prepared import load_split, load_vocabs  # noqa: E402
from nmtkit.losses import projected_token_losses  # noqa: E402
from nmtkit.models.seq2seq import build_model  # noqa: E402
from nmtkit.precision import dtype_policy  # noqa: E402
from nmtkit.training import Trainer  # noqa: E402
from peer import describe_cpu  # noqa: E402

SIGNATURE = [tf.TensorSpec([None, None], tf.int32)] * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="runs/bench-multi30k-de-en/data")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "mixed_bfloat16"))
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "train.src.ids.npy").is_file():
        sys.exit(f"step_profile: no prepared data in {data}: run bench/multi30k.sh or nmtkit preprocess")
    recipe = load_recipe(str(ROOT / "recipes/multi30k-de-en.yaml"), [f"data.prepared={data}"])
    src_vocab, tgt_vocab = load_vocabs(data)
    model = build_model(recipe.model, len(src_vocab), len(tgt_vocab), dtype_policy(args.precision))
    trainer = Trainer(model, recipe.train)
    smoothing = recipe.train.label_smoothing
    split = load_split(data, "train")
    stream = batches(split.src, split.tgt, recipe.train.batch_size, np.random.default_rng(0))
    sample = [next(stream) for _ in range(args.batches)]
    variables = model.trainable_variables

    def loss_of(src, tgt_in, tgt_out):
        total, tokens = model.training_loss(src, tgt_in, tgt_out, smoothing)
        return total / tokens

    @tf.function(input_signature=SIGNATURE)
    def forward(src, tgt_in, tgt_out):
        return loss_of(src, tgt_in, tgt_out)

    @tf.function(input_signature=SIGNATURE)
    def gradients(src, tgt_in, tgt_out):
        with tf.GradientTape() as tape:
            loss = loss_of(src, tgt_in, tgt_out)
        return _checksum(tape.gradient(loss, variables))

    @tf.function(input_signature=SIGNATURE)
    def encoder(src, tgt_in, tgt_out):
        with tf.GradientTape() as tape:
            outputs, _, states = model.encoder(src, training=True)
            total = tf.reduce_sum(tf.cast(outputs, tf.float32)) + sum(
                tf.reduce_sum(tf.cast(s, tf.float32)) for s in tf.nest.flatten(states))
        return _checksum(tape.gradient(total, model.encoder.trainable_variables))

    decoder = model.decoder
    output_variables = [v for v in decoder.trainable_variables if "output" in v.path]

    @tf.function(input_signature=SIGNATURE)
    def output_and_loss(src, tgt_in, tgt_out):
        attentional = tf.cast(tf.random.uniform(tf.concat([tf.shape(tgt_out), [decoder.units]], 0), -1, 1),
                              model.compute_dtype)
        with tf.GradientTape() as tape:
            tape.watch(attentional)
            w = decoder.output_weights()
            total, tokens = projected_token_losses(attentional, w["output_kernel"], w["output_bias"], tgt_out,
                                                   smoothing)
            loss = total / tokens
        return _checksum(tape.gradient(loss, [attentional, *output_variables]))

    def timed(function):
        for batch in sample[:3]:  # tracing and the first, slow calls
            function(batch)
        start = time.perf_counter()
        for batch in sample:
            function(batch)
        return (time.perf_counter() - start) / len(sample) * 1e3

    rate = recipe.train.learning_rate
    ms = {
        "step": timed(lambda b: trainer.train_step(b, rate)),
        "gradients": timed(lambda b: float(gradients(*b))),
        "forward": timed(lambda b: float(forward(*b))),
        "encoder": timed(lambda b: float(encoder(*b))),
        "output+loss": timed(lambda b: float(output_and_loss(*b))),
    }
    tokens = np.mean([np.count_nonzero(b.tgt_out) for b in sample])
    print(f"CPU: {describe_cpu()}")
    print(f"{model.dtype_policy.name}; {len(sample)} real batches of {recipe.train.batch_size} sentences, "
          f"{tokens:.0f} target tokens on average; nmtkit at {ROOT}")
    derived = {
        "optimizer (step - gradients)": ms["step"] - ms["gradients"],
        "backward (gradients - forward)": ms["gradients"] - ms["forward"],
        "decoder recurrence, fwd + bwd (gradients - encoder - output+loss)":
            ms["gradients"] - ms["encoder"] - ms["output+loss"],
    }
    for name, value in {**ms, **derived}.items():
        print(f"{name:<68} {value:7.1f} ms  {100 * value / ms['step']:5.1f}%")


def _checksum(gradients):
    """A scalar that depends on every gradient (so none is pruned from the graph)."""
    return tf.add_n([tf.reduce_sum(tf.cast(tf.convert_to_tensor(g), tf.float32)) for g in gradients if g is not None])


if __name__ == "__main__":
    main()
