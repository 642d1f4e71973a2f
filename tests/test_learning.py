"""A tiny model learns the generated dates task in seconds, and search reproduces it."""

import numpy as np
import tensorflow as tf

from nmtkit.data.batching import pad
from nmtkit.data.textio import read_lines
from nmtkit.data.vocab import BOS, EOS
from nmtkit.translate import Translator


def texts(translations):
    return [t.text for t in translations]


def test_tiny_model_learns_dates(trained_model, dates_dir):
    sources = read_lines(dates_dir / "test.txt")[:100]
    references = read_lines(dates_dir / "test.iso")[:100]
    outputs = texts(Translator([trained_model]).translate(sources))  # held-out dates, beam 3
    exact = np.mean([o == r for o, r in zip(outputs, references)])
    assert exact >= 0.9, list(zip(sources, outputs))[:10]


def test_batched_translation_equals_one_at_a_time(trained_model, dates_dir):
    sources = read_lines(dates_dir / "test.txt")[:40]
    batched = Translator([trained_model], {"batch_size": 16}).translate(sources)
    single = Translator([trained_model], {"batch_size": 1}).translate(sources)
    assert texts(batched) == texts(single)
    np.testing.assert_allclose([t.candidates[0].score for t in batched],
                               [t.candidates[0].score for t in single], rtol=1e-4, atol=1e-4)


def test_beam_of_one_follows_the_models_most_likely_tokens(trained_model, dates_dir):
    translator = Translator([trained_model], {"beam_size": 1})
    model = translator.model
    lines = read_lines(dates_dir / "test.txt")[:20]
    ids = [translator.src_vocab.encode(p) for p in translator.tokenizers.src.encode(lines)]
    state, memory, mask = model.encode(tf.constant(pad(ids)))
    token, chains = tf.fill([len(lines)], BOS), []
    for _ in range(16):  # the argmax chain, step by step in eager mode
        logits, state, _ = model.step(token, state, memory, mask)
        token = tf.argmax(logits, -1, output_type=tf.int32)
        chains.append(token.numpy())
    expected = [translator.tokenizers.tgt.decode(translator.tgt_vocab.decode(list(row) + [EOS]))
                for row in np.stack(chains, 1)]
    assert texts(translator.translate(lines)) == expected
