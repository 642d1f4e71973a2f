import numpy as np
import pytest
import tensorflow as tf

from nmtkit.data.vocab import PAD
from nmtkit.losses import smoothed_cross_entropy, token_losses
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
def test_the_loss_gradient_is_tensorflows_own(rng, eps):
    """The written-out gradient of the label-smoothed loss equals TensorFlow's gradient of the
    same loss from log_softmax."""
    logits = tf.constant(rng.normal(size=(2, 3, 6)).astype(np.float32) * 3)
    targets = tf.constant([[4, 5, PAD], [1, 4, 5]], tf.int32)
    weights = tf.constant(rng.normal(size=(2, 3)).astype(np.float32))

    def reference(logits):
        log_p = tf.nn.log_softmax(logits)
        nll = -tf.gather(log_p, targets, batch_dims=2)
        uniform = -(tf.reduce_sum(log_p, -1) - log_p[..., PAD]) / 5.0
        return (1 - eps) * nll + eps * uniform

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        got = tf.reduce_sum(smoothed_cross_entropy(logits, targets, eps) * weights)
        expected = tf.reduce_sum(reference(logits) * weights)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(got, logits), tape.gradient(expected, logits), rtol=1e-5, atol=1e-6)
