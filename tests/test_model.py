import numpy as np
import pytest
import tensorflow as tf

from nmtkit.config import ModelConfig
from nmtkit.data.vocab import BOS, PAD
from nmtkit.models import decoder as decoder_module
from nmtkit.models.attention import LuongGeneralAttention
from nmtkit.models.seq2seq import build_model

CONFIG = ModelConfig(embedding_dim=8, encoder_units=6, decoder_units=12, dropout=0.3)


def test_luong_general_attention_matches_hand_computation(rng):
    attention = LuongGeneralAttention(3, 4)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    attention.kernel.assign(kernel)
    values = rng.normal(size=(2, 5, 4)).astype(np.float32)
    query = rng.normal(size=(2, 3)).astype(np.float32)
    mask = np.array([[True] * 5, [True, True, True, False, False]])

    context, weights = attention.attend(
        query, values, attention.project_memory(values), tf.constant(mask)
    )
    for b in range(2):
        n = mask[b].sum()
        scores = np.array([query[b] @ kernel.T @ values[b, s] for s in range(n)])
        expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        np.testing.assert_allclose(weights[b, :n], expected, rtol=1e-5)
        assert np.all(weights.numpy()[b, n:] == 0.0)
        np.testing.assert_allclose(context[b], expected @ values[b, :n], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-6)


def test_parameter_count_of_the_reference_shape():
    model = build_model(ModelConfig(), 5480, 4280)
    emb, enc, dec = 256, 256, 512
    expected = (
        5480 * emb + 2 * 4 * enc * (emb + enc + 1)  # source embedding, BiLSTM
        + 4280 * emb + 4 * dec * (emb + 2 * dec + 1)  # target embedding, input-feeding LSTM
        + 2 * enc * dec + (2 * enc + dec) * dec  # attention W_a, combination W_c
        + dec * 4280 + 4280  # output layer
    )
    assert model.count_params() == expected  # 9.16 M, as the OpenNMT-py peer


def _inputs(rng):
    src = rng.integers(4, 20, size=(3, 7)).astype(np.int32)
    src[1, 4:] = PAD
    tgt_in = rng.integers(4, 15, size=(3, 5)).astype(np.int32)
    tgt_in[:, 0] = BOS
    return src, tgt_in


@pytest.mark.parametrize("fixed_weights", [False, True])
def test_step_reproduces_teacher_forcing(rng, fixed_weights):
    """The search step (with fixed weights, as translation builds it: from the gate table) and
    the whole-sequence training loop compute the same thing."""
    model = build_model(CONFIG, 20, 15)
    src, tgt_in = _inputs(rng)
    logits = model((src, tgt_in), training=False).numpy()
    state, memory, mask = model.encode(src)
    step = model.step_function(fixed_weights)
    for t in range(tgt_in.shape[1]):
        step_logits, state, attention = step(tf.constant(tgt_in[:, t]), state, memory, mask)
        np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-4, atol=1e-5)
        assert np.all(attention.numpy()[1, 4:] == 0.0)


def test_the_gate_table_is_kept_only_within_its_size_limit(monkeypatch):
    assert build_model(CONFIG, 20, 15).decoder._gate_table().shape == (15, 4 * 12)  # target vocabulary x gates
    monkeypatch.setattr(decoder_module, "GATE_TABLE_BYTES", 15 * 4 * 12 * 4 - 1)  # float32: 1 byte short
    assert build_model(CONFIG, 20, 15).decoder._gate_table() is None


def test_padding_does_not_change_the_output(rng):
    model = build_model(CONFIG, 20, 15)
    src, tgt_in = _inputs(rng)
    padded = np.concatenate([src, np.zeros((3, 4), np.int32)], axis=1)
    np.testing.assert_allclose(model((src, tgt_in)), model((padded, tgt_in)), rtol=1e-5, atol=1e-6)


def test_save_and_load_give_identical_outputs(tmp_path, rng):
    model = build_model(CONFIG, 20, 15)
    src, tgt_in = _inputs(rng)
    model.save_weights(tmp_path / "m.weights.h5")
    clone = build_model(CONFIG, 20, 15)
    clone.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(model((src, tgt_in)), clone((src, tgt_in)))


def test_mixed_bfloat16_keeps_float32_weights(rng):
    model = build_model(CONFIG, 20, 15, precision="mixed_bfloat16")
    assert {w.dtype for w in model.weights} == {"float32"}
    src, tgt_in = _inputs(rng)
    reference = build_model(CONFIG, 20, 15)
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(
        tf.cast(model((src, tgt_in)), tf.float32), reference((src, tgt_in)), atol=0.05
    )


def test_dropout_only_in_training(rng):
    model = build_model(CONFIG, 20, 15)
    src, tgt_in = _inputs(rng)
    np.testing.assert_array_equal(model((src, tgt_in)), model((src, tgt_in)))
    assert not np.allclose(model((src, tgt_in), training=True), model((src, tgt_in)))
