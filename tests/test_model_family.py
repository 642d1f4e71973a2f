"""Every recipe-selectable architecture builds, learns, steps like it trains, and reloads."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from nmtkit.config import ModelConfig
from nmtkit.data.vocab import BOS, PAD
from nmtkit.models.attention import AdditiveAttention, LuongDotAttention
from nmtkit.models.recurrence import CUDNN_SETTINGS
from nmtkit.models.seq2seq import build_model
from nmtkit.losses import token_losses

ATTENTIONS = ("none", "luong_dot", "luong_general", "luong_concat", "bahdanau")
# Every cell x attention x input feeding, each once as a 1-layer bidirectional and once as a
# 2-layer unidirectional residual stack (the other two shapes add no code path; a 2-layer
# bidirectional encoder is built in test_bridges_between_cells_and_depths).
COMBINATIONS = [
    ("rnn", cell, bi, attention, feeding, layers)
    for cell, (bi, layers), attention, feeding in itertools.product(
        ("lstm", "gru", "rnn"), ((True, 1), (False, 2)), ATTENTIONS, (True, False))
    if not (attention == "none" and feeding)  # input feeding needs attention (a recipe error)
] + [  # the NTM decoder: one LSTM-controlled NTM, with and without attention and input feeding
    ("ntm", "lstm", True, attention, feeding, 1)
    for attention, feeding in (("none", False), ("luong_general", True), ("bahdanau", False))
]


def config_for(cell, bi, attention, feeding, layers, model_type="rnn", **extra):
    return ModelConfig(
        type=model_type, memory_size=6, memory_width=5,
        embedding_dim=8, encoder_cell=cell, encoder_bidirectional=bi, encoder_units=6 if bi else 12,
        encoder_layers=layers, encoder_residual=layers > 1, decoder_cell=cell, decoder_units=12,
        decoder_layers=layers, attention=attention, input_feeding=feeding, dropout=0.0, **extra)


def copy_task(rng, batch=8, length=4, vocab=12):
    """Copy a random sequence: src [batch, length] (last two rows padded), targets shifted by BOS."""
    src = rng.integers(4, vocab, size=(batch, length)).astype(np.int32)
    src[-2:, length - 2:] = PAD
    tgt_out = np.concatenate([src, np.full((batch, 1), PAD, np.int32)], axis=1)
    tgt_out[np.arange(batch), (src != PAD).sum(1)] = 3  # EOS after the last real token
    tgt_in = np.concatenate([np.full((batch, 1), BOS, np.int32), tgt_out[:, :-1]], axis=1)
    return src, tgt_in, tgt_out


def loss_of(logits, tgt_out):
    total, tokens = token_losses(logits, tgt_out, 0.0)
    return total / tokens


@pytest.mark.parametrize("model_type, cell, bi, attention, feeding, layers", COMBINATIONS)
def test_every_combination_learns_steps_and_reloads(model_type, cell, bi, attention, feeding, layers, tmp_path):
    keras.utils.set_random_seed(0)  # the same initial weights whichever tests ran before
    rng = np.random.default_rng(0)
    model = build_model(config_for(cell, bi, attention, feeding, layers, model_type), 12, 12)
    src, tgt_in, tgt_out = copy_task(rng)

    optimizer = keras.optimizers.Adam(0.03)
    losses = []
    for i in range(3):  # eager steps are slow; three already show whether gradients flow
        with tf.GradientTape(persistent=True) as tape:  # no dropout here, so training and inference agree
            total, tokens = model.training_loss(src, tgt_in, tgt_out, 0.0)
            loss = total / tokens
            if i == 0:  # training's loss is the loss of the model's logits
                plain = loss_of(model((src, tgt_in), training=True), tgt_out)
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None for g in grads)  # every weight takes part
        if i == 0:
            np.testing.assert_allclose(loss, plain, rtol=1e-5)
            for ours, theirs in zip(grads, tape.gradient(plain, model.trainable_variables)):
                np.testing.assert_allclose(tf.convert_to_tensor(ours), tf.convert_to_tensor(theirs), rtol=1e-3, atol=1e-5)
        optimizer.apply(grads, model.trainable_variables)
        losses.append(float(loss))
    logits = model((src, tgt_in)).numpy()
    assert float(loss_of(logits, tgt_out)) < 0.97 * losses[0]

    for fixed_weights in (False, True):  # validation's step, and translation's (gate table)
        step = model.step_function(fixed_weights)
        state, memory, mask = model.encode(src)
        for t in range(tgt_in.shape[1]):  # search's step computes what training computed
            step_logits, state, weights = step(tf.constant(tgt_in[:, t]), state, memory, mask)
            np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-4, atol=1e-4)
            assert np.all(weights.numpy()[-2:, -2:] == 0.0)  # nothing attends to padding

    model.save_weights(tmp_path / "m.weights.h5")
    for variable in model.weights:  # scramble, then reload (a fresh build is tested in test_model)
        variable.assign(tf.zeros_like(variable))
    model.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(model((src, tgt_in)), logits)


@pytest.mark.parametrize("encoder_cell, decoder_cell, bridge, encoder_layers", [
    ("gru", "lstm", "copy", 1),  # no cell state to copy: it starts from zero
    ("lstm", "gru", "dense", 2),
    ("rnn", "lstm", "dense", 1),
    ("lstm", "lstm", "zero", 2),
])
def test_bridges_between_cells_and_depths(encoder_cell, decoder_cell, bridge, encoder_layers):
    config = ModelConfig(embedding_dim=8, encoder_cell=encoder_cell, encoder_units=6,
                         encoder_layers=encoder_layers, bridge=bridge, decoder_cell=decoder_cell,
                         decoder_units=12, decoder_layers=1, dropout=0.0)
    model = build_model(config, 12, 12)
    src, tgt_in, _ = copy_task(np.random.default_rng(1))
    (states, _), _, _ = model.encode(src)
    assert len(states) == 1 and len(states[0]) == (2 if decoder_cell == "lstm" else 1)
    if bridge == "zero":
        assert not np.any(states[0][0].numpy())
    assert model((src, tgt_in)).shape == (8, 5, 12)


def test_tied_embeddings_share_one_matrix():
    config = ModelConfig(embedding_dim=12, encoder_units=6, decoder_units=12, tie_embeddings=True)
    tied = build_model(config, 20, 15)
    untied = build_model(ModelConfig(embedding_dim=12, encoder_units=6, decoder_units=12), 20, 15)
    assert untied.count_params() - tied.count_params() == 12 * 15
    assert tied.parameters_by_part()["output layer"] == 15


def test_recurrent_layers_keep_the_settings_cudnn_needs():
    model = build_model(config_for("lstm", True, "luong_general", False, 2), 12, 12)
    layers = [rnn.forward_layer for rnn in model.encoder.rnns] + list(model.decoder.rnns)
    gru = build_model(config_for("gru", False, "luong_general", False, 1), 12, 12)
    layers += list(gru.encoder.rnns) + list(gru.decoder.rnns)
    for layer in layers:
        cell = layer.cell
        assert cell.activation is keras.activations.tanh
        assert cell.recurrent_activation is keras.activations.sigmoid
        assert cell.recurrent_dropout == CUDNN_SETTINGS["recurrent_dropout"] and not layer.unroll
        assert cell.use_bias
        assert getattr(cell, "reset_after", True)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_dot_and_additive_attention_match_hand_computation(rng):
    values = rng.normal(size=(2, 5, 4)).astype(np.float32)
    query = rng.normal(size=(2, 4)).astype(np.float32)
    mask = np.array([[True] * 5, [True, True, True, False, False]])

    dot = LuongDotAttention(4, 4)
    additive = AdditiveAttention(4, 4)
    w_k, w_q, v = (rng.normal(size=s).astype(np.float32) for s in ((4, 4), (4, 4), (4,)))
    additive.memory_kernel.assign(w_k)
    additive.query_kernel.assign(w_q)
    additive.vector.assign(v)
    hand = {
        dot: lambda b, s: query[b] @ values[b, s],
        additive: lambda b, s: v @ np.tanh(query[b] @ w_q + values[b, s] @ w_k),
    }
    for attention, score in hand.items():
        context, weights = attention.attend(query, values, attention.project_memory(values),
                                            tf.constant(mask))
        for b in range(2):
            n = mask[b].sum()
            expected = softmax(np.array([score(b, s) for s in range(n)]))
            np.testing.assert_allclose(weights[b, :n], expected, rtol=1e-5)
            assert np.all(weights.numpy()[b, n:] == 0.0)
            np.testing.assert_allclose(context[b], expected @ values[b, :n], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_mixed_bfloat16_runs_every_attention(attention):
    config = config_for("gru" if attention == "bahdanau" else "lstm", True, attention,
                        attention != "none", 2)
    model = build_model(config, 12, 12, precision="mixed_bfloat16")
    src, tgt_in, _ = copy_task(np.random.default_rng(2))
    logits = model((src, tgt_in), training=True)
    state, memory, mask = model.encode(src)
    step_logits, _, _ = model.step(tf.constant(tgt_in[:, 0]), state, memory, mask)
    assert logits.dtype == step_logits.dtype == tf.bfloat16
    assert np.all(np.isfinite(tf.cast(logits, tf.float32).numpy()))
