"""A tiny model learns the generated dates task in seconds, and search reproduces it."""

import numpy as np
import tensorflow as tf

from nmtkit.data.batching import pad
from nmtkit.data.textio import read_lines
from nmtkit.data.vocab import BOS, EOS
from nmtkit.search import beam_search, greedy_search
from nmtkit.translate import Translator


def test_tiny_model_learns_dates(trained_model, dates_dir):
    sources = read_lines(dates_dir / "test.txt")[:100]
    references = read_lines(dates_dir / "test.iso")[:100]
    outputs = Translator(trained_model).translate(sources)  # held-out dates, beam 3
    exact = np.mean([o == r for o, r in zip(outputs, references)])
    assert exact >= 0.9, list(zip(sources, outputs))[:10]


def test_batched_translation_equals_one_at_a_time(trained_model, dates_dir):
    sources = read_lines(dates_dir / "test.txt")[:40]
    batched = Translator(trained_model, batch_size=16).translate(sources)
    single = Translator(trained_model, batch_size=1).translate(sources)
    assert batched == single


def test_beam_of_one_equals_greedy_on_a_real_model(trained_model, dates_dir):
    translator = Translator(trained_model)
    model = translator.model
    lines = read_lines(dates_dir / "test.txt")[:20]
    ids = [translator.src_vocab.encode(p) for p in translator.tokenizer.encode(lines)]
    state, memory, mask = model.encode(tf.constant(pad(ids)))
    greedy = greedy_search(model.step, state, memory, mask, BOS, EOS, 16).numpy()
    beam, _ = beam_search(model.step, state, memory, mask, BOS, EOS, 1, 16)
    np.testing.assert_array_equal(beam.numpy()[:, 0], greedy)
