"""Search tested without a model: a scripted step function whose next-token log-probabilities
depend only on the previous token (a table), so exact answers can be worked out by hand."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from nmtkit.search import beam_search, greedy_search

BOS, EOS = 2, 3


def markov_step(table):
    """step() over a [vocab, vocab] table of next-token log-probabilities."""
    table = tf.constant(table, tf.float32)

    def step(token, state, memory, mask):
        return tf.gather(table, token), state, tf.zeros_like(mask, tf.float32)

    return step


def run(search, table, batch=1, **kwargs):
    state = (tf.zeros([batch, 1]),)
    memory = tf.zeros([batch, 2, 1])
    mask = tf.ones([batch, 2], tf.bool)
    return search(markov_step(table), state, memory, mask, BOS, EOS, **kwargs)


def table_from(rows, vocab=8, floor=-20.0):
    """Log-probabilities: given `rows[token] = {next: prob}`, the rest share what is left."""
    table = np.full((vocab, vocab), floor, np.float32)
    for token, nexts in rows.items():
        for nxt, p in nexts.items():
            table[token, nxt] = np.log(p)
    table[EOS] = floor
    table[EOS, EOS] = 0.0
    return table


def trim(ids):
    ids = list(ids)
    return ids[: ids.index(EOS) + 1] if EOS in ids else ids


def test_greedy_follows_the_most_likely_tokens():
    table = table_from({BOS: {5: 0.9, 6: 0.1}, 5: {6: 0.8, EOS: 0.2}, 6: {EOS: 1.0}})
    out = run(greedy_search, table, batch=3, max_length=10).numpy()
    assert out.shape == (3, 3)
    assert all(trim(row) == [5, 6, EOS] for row in out)


def test_greedy_stops_at_max_length():
    table = table_from({BOS: {5: 1.0}, 5: {5: 1.0}})
    assert run(greedy_search, table, max_length=4).numpy().tolist() == [[5, 5, 5, 5]]


def test_beam_finds_what_greedy_misses():
    # Greedy takes 4 (0.6) and then must spread over many tokens; 5 (0.4) then EOS (1.0) wins.
    table = table_from({BOS: {4: 0.6, 5: 0.4}, 4: {t: 0.2 for t in (1, 4, 5, 6, 7)},
                        5: {EOS: 1.0}, 1: {EOS: 1.0}, 6: {EOS: 1.0}, 7: {EOS: 1.0}})
    assert trim(run(greedy_search, table, max_length=5).numpy()[0])[0] == 4
    hypotheses, scores = run(beam_search, table, beam_size=2, max_length=5)
    assert trim(hypotheses.numpy()[0, 0]) == [5, EOS]
    assert scores.numpy()[0, 0] == pytest.approx(np.log(0.4), abs=1e-5)
    assert scores.numpy()[0, 0] >= scores.numpy()[0, 1]


def test_beam_of_one_equals_greedy(rng):
    table = np.log(rng.dirichlet(np.ones(8), size=8)).astype(np.float32)
    greedy = run(greedy_search, table, max_length=6).numpy()[0]
    beam, _ = run(beam_search, table, beam_size=1, max_length=6)
    assert trim(beam.numpy()[0, 0]) == trim(greedy)


@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_matches_exhaustive_search(seed):
    vocab, length = 5, 3
    rng = np.random.default_rng(seed)
    table = np.log(rng.dirichlet(np.ones(vocab) * 0.5, size=vocab)).astype(np.float32)
    table[EOS] = -1e9
    table[EOS, EOS] = 0.0  # EOS absorbs at no cost, as the search freezes finished hypotheses

    def total(seq):
        return sum(table[prev, nxt] for prev, nxt in zip((BOS, *seq), seq))

    best = max(itertools.product(range(vocab), repeat=length), key=total)
    hypotheses, scores = run(beam_search, table, beam_size=vocab ** (length - 1), max_length=length)
    assert scores.numpy()[0, 0] == pytest.approx(total(best), abs=1e-4)
    assert trim(hypotheses.numpy()[0, 0]) == trim(best)


def test_beam_results_are_sorted_and_batched_rows_independent(rng):
    table = np.log(rng.dirichlet(np.ones(8), size=8)).astype(np.float32)
    one, one_scores = run(beam_search, table, batch=1, beam_size=4, max_length=6)
    many, many_scores = run(beam_search, table, batch=3, beam_size=4, max_length=6)
    assert np.all(np.diff(many_scores.numpy(), axis=1) <= 1e-6)
    for row in range(3):
        np.testing.assert_allclose(many_scores.numpy()[row], one_scores.numpy()[0], rtol=1e-6)
        assert [trim(h) for h in many.numpy()[row]] == [trim(h) for h in one.numpy()[0]]
