import numpy as np
import pytest
import tensorflow as tf

from nmtkit.data.vocab import PAD
from nmtkit.losses import token_losses
from tests.conftest import TRAINED_EPOCHS


def test_label_smoothed_loss_matches_hand_computation(rng):
    logits = rng.normal(size=(2, 3, 6)).astype(np.float32)
    targets = np.array([[4, 5, PAD], [1, 4, 5]], np.int32)
    eps = 0.1
    total, count = token_losses(tf.constant(logits), tf.constant(targets), eps)
    expected = 0.0
    for b in range(2):
        for t in range(3):
            if targets[b, t] == PAD:
                continue
            log_p = logits[b, t] - np.log(np.exp(logits[b, t]).sum())
            smooth = -np.delete(log_p, PAD).mean()  # uniform over every token but padding
            expected += (1 - eps) * -log_p[targets[b, t]] + eps * smooth
    assert float(count) == 5
    assert float(total) == pytest.approx(expected, rel=1e-5)


def test_training_manifest_and_metrics(trained_model):
    import json

    manifest = json.loads((trained_model / "manifest.json").read_text())
    training = manifest["training"]
    assert training["stopped_by"] == "epochs" and training["epochs"] == pytest.approx(TRAINED_EPOCHS)
    metrics = [json.loads(line) for line in (trained_model / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == TRAINED_EPOCHS
    losses = [m["valid_loss"] for m in metrics]
    assert losses[-1] < losses[0]  # it learned
    assert training["best"]["valid_loss"] == min(losses)


def test_time_budget_stops_training(tmp_path, dates_dir):
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess
    from nmtkit.training import train
    from tests.conftest import write_recipe

    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", dates_dir, tmp_path / "run",
                                      train={"epochs": 100, "max_minutes": 0.1}))
    preprocess(recipe)
    manifest = train(recipe)
    assert manifest["training"]["stopped_by"] == "time budget"
    assert 0 < manifest["training"]["epochs"] < 100


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("chunk_rows", [1, 2, 4, 100])
def test_the_fused_loss_is_the_output_layer_then_the_loss(rng, monkeypatch, eps, chunk_rows):
    """`projected_token_losses` (output layer and loss as one, gradients written out, in chunks
    of rows) gives the value and gradients TensorFlow's autodiff gives for the two in turn."""
    from nmtkit import losses

    vocab = 6
    monkeypatch.setattr(losses, "CHUNK_BYTES", chunk_rows * 4 * vocab)
    features = tf.constant(rng.normal(size=(2, 3, 5)).astype(np.float32))
    kernel = tf.constant(rng.normal(size=(5, vocab)).astype(np.float32) * 2)
    bias = tf.constant(rng.normal(size=(vocab,)).astype(np.float32))
    targets = tf.constant([[4, 5, PAD], [1, 4, 5]], tf.int32)
    inputs = [features, kernel, bias]

    def reference(features, kernel, bias):
        log_p = tf.nn.log_softmax(tf.einsum("btu,uv->btv", features, kernel) + bias)
        nll = -tf.gather(log_p, targets, batch_dims=2)
        uniform = -(tf.reduce_sum(log_p, -1) - log_p[..., PAD]) / (vocab - 1.0)
        mask = tf.cast(targets != PAD, tf.float32)
        return tf.reduce_sum(((1 - eps) * nll + eps * uniform) * mask), tf.reduce_sum(mask)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        got, tokens = losses.projected_token_losses(*inputs, targets, eps)
        expected, _ = reference(*inputs)
        scaled = [3.0 * got, 3.0 * expected]  # an upstream gradient other than 1
        plain, _ = token_losses(tf.einsum("btu,uv->btv", features, kernel) + bias, targets, eps)
    assert float(tokens) == 5
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(plain, expected, rtol=1e-5)
    for ours, theirs in zip(*(tape.gradient(loss, inputs) for loss in scaled)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_the_fused_loss_stays_finite_where_a_targets_probability_underflows():
    """A target whose logit is 300 below the best has probability 0 in float32: the loss then
    takes the log-sum-exp from a pass of its own, and is 300 and a bit, not infinite."""
    from nmtkit import losses

    features = tf.constant([[[1.0, 0.0], [0.0, 1.0]]])
    kernel = tf.constant([[0.0, 0.0, 300.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    bias = tf.zeros([4])
    targets = tf.constant([[1, 3]], tf.int32)  # row 1: logit 0 against 300
    with tf.GradientTape() as tape:
        tape.watch(features)
        total, tokens = losses.projected_token_losses(features, kernel, bias, targets, 0.0)
    expected, _ = token_losses(tf.einsum("btu,uv->btv", features, kernel) + bias, targets, 0.0)
    assert float(tokens) == 2
    np.testing.assert_allclose(total, expected, rtol=1e-6)
    assert 300 < float(total) < 302
    assert np.all(np.isfinite(tape.gradient(total, features)))
