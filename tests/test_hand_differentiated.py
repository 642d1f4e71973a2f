"""The hand-written backward passes (nmtkit.models.luong_loop for the decoder, lstm_loop for the
bidirectional LSTM encoder) against TensorFlow's own differentiation of the same arithmetic,
and against finite differences."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from nmtkit.config import ModelConfig
from nmtkit.models import encoder as encoder_module
from nmtkit.models.decoder import RecurrentDecoder
from nmtkit.models.encoder import RecurrentEncoder
from nmtkit.models.luong_loop import luong_lstm_loop
from nmtkit.models.seq2seq import build_model

from test_model import _inputs

CONFIG = ModelConfig(embedding_dim=8, encoder_units=6, decoder_units=12, dropout=0.0)


def _loss_and_gradients(model, src, tgt_in, weights):
    with tf.GradientTape() as tape:
        logits = model((src, tgt_in), training=True)
        loss = tf.reduce_sum(logits * weights)
    return logits.numpy(), [g.numpy() if not isinstance(g, tf.IndexedSlices) else tf.convert_to_tensor(g).numpy()
                            for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("attention", ["luong_general", "luong_dot"])
def test_same_outputs_and_gradients_as_the_differentiated_step_loop(rng, monkeypatch, attention):
    config = dataclasses.replace(CONFIG, attention=attention)
    src, tgt_in = _inputs(rng)
    hand = build_model(config, 20, 15)
    assert hand.decoder.hand_differentiated
    # weights large enough that every path (attention included) moves the gradients visibly
    hand.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in hand.get_weights()])
    weights = rng.normal(size=(*tgt_in.shape, 15)).astype(np.float32)
    logits, gradients = _loss_and_gradients(hand, src, tgt_in, weights)

    monkeypatch.setattr(RecurrentDecoder, "hand_differentiated", False)  # TensorFlow differentiates `_step`
    stepwise = build_model(config, 20, 15)
    stepwise.set_weights(hand.get_weights())
    expected_logits, expected_gradients = _loss_and_gradients(stepwise, src, tgt_in, weights)

    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)
    names = [v.path for v in hand.trainable_variables]
    assert len(gradients) == len(expected_gradients)
    for name, got, expected in zip(names, gradients, expected_gradients):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=name)
        assert np.abs(got).sum() > 0, name  # every weight takes part


def test_gradients_with_dropout_match_finite_differences(rng):
    steps, batch, units, src_len, memory_dim = 4, 2, 3, 5, 4

    def normal(*shape):
        return tf.constant(rng.normal(size=shape), tf.float64)

    mask = tf.constant([[True] * src_len, [True, True, True, False, False]])
    keep = tf.constant((rng.random((steps, batch, units)) >= 0.3) / 0.7, tf.float64)
    inputs = [normal(steps, batch, 4 * units), normal(batch, units), normal(batch, units), normal(batch, units),
              normal(batch, src_len, memory_dim), normal(batch, src_len, units), normal(units, 4 * units),
              normal(units, 4 * units), normal(memory_dim + units, units)]
    projection = normal(steps, batch, units)

    def loss(*x):
        outputs = luong_lstm_loop(*x[:6], mask, *x[6:], keep=keep)
        return tf.reduce_sum(outputs * projection)

    theoretical, numerical = tf.test.compute_gradient(loss, inputs, delta=1e-6)
    for i, (got, expected) in enumerate(zip(theoretical, numerical)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"input {i}")
        assert np.abs(got).sum() > 0


@pytest.mark.parametrize("layers", [1, 2])
def test_the_encoder_matches_keras_bidirectional_lstm(rng, monkeypatch, layers):
    """Outputs (zeros on padding), final states and every gradient as Keras' own layer gives them."""
    src, _ = _inputs(rng)
    src[2, 2:] = 0  # a third length
    hand = RecurrentEncoder(20, 5, units=4, layers=layers)
    hand(src)
    hand.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in hand.get_weights()])
    keras_encoder = RecurrentEncoder(20, 5, units=4, layers=layers)
    keras_encoder(src)
    keras_encoder.set_weights(hand.get_weights())
    projection = rng.normal(size=(*src.shape, 8)).astype(np.float32)
    state_projection = rng.normal(size=(2, src.shape[0], 8)).astype(np.float32)

    def run(encoder):
        with tf.GradientTape() as tape:
            outputs, _, states = encoder(src, training=True)
            loss = tf.reduce_sum(outputs * projection) + tf.reduce_sum(tf.stack(states[-1]) * state_projection)
        grads = tape.gradient(loss, encoder.trainable_variables)
        return outputs.numpy(), [s.numpy() for s in states[-1]], [tf.convert_to_tensor(g).numpy() for g in grads]

    outputs, states, grads = run(hand)
    inference_outputs, _, inference_states = hand(src)  # the forward-only loop of translation
    monkeypatch.setattr(encoder_module, "cudnn_available", lambda: True)  # Keras' layer, as on a GPU
    expected_outputs, expected_states, expected_grads = run(keras_encoder)
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-5, atol=1e-6)
    assert np.all(outputs[2, 2:] == 0)
    np.testing.assert_allclose(inference_outputs, expected_outputs, rtol=1e-5, atol=1e-6)
    for got, inferred, expected in zip(states, inference_states[-1], expected_states):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(inferred, expected, rtol=1e-5, atol=1e-6)
    for variable, got, expected in zip(hand.trainable_variables, grads, expected_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=variable.path)
        assert np.abs(got).sum() > 0, variable.path


def test_mixed_bfloat16_gradients_follow_float32(rng):
    """With bfloat16 products (and float32 gates, states and attention) the hand-written loops'
    gradients point where the float32 model's do."""
    src, tgt_in = _inputs(rng)
    exact = build_model(CONFIG, 20, 15)
    exact.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in exact.get_weights()])
    mixed = build_model(CONFIG, 20, 15, "mixed_bfloat16")
    mixed.set_weights(exact.get_weights())
    weights = rng.normal(size=(*tgt_in.shape, 15)).astype(np.float32)
    _, expected = _loss_and_gradients(exact, src, tgt_in, weights)
    _, got = _loss_and_gradients(mixed, src, tgt_in, weights)
    for variable, g, e in zip(exact.trainable_variables, got, expected):
        cosine = (g * e).sum() / np.linalg.norm(g) / np.linalg.norm(e)
        assert cosine > 0.99, variable.path
