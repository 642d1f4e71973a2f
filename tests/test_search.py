"""Search tested without a model: a scripted step function whose next-token log-probabilities
depend only on the previous token (a table), so exact answers can be worked out by hand or by
enumerating every output."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from nmtkit.search import SearchOptions, search

BOS, EOS = 2, 3


def markov_step(table, attention=None):
    """step() over a [vocab, vocab] table of next-token log-probabilities; optional scripted
    attention [vocab, src_len] chosen by the previous token."""
    table = tf.constant(table, tf.float32)

    def step(token, state, memory, mask):
        if attention is None:
            weights = tf.zeros([tf.shape(token)[0], tf.shape(mask)[1]])  # a row per hypothesis
        else:
            weights = tf.gather(tf.constant(attention, tf.float32), token)
        return tf.gather(table, token), state, weights

    return step


def run(table, batch=1, src_len=2, attention=None, forbidden=(), seed=None, **options):
    state = (tf.zeros([batch, 1]),)
    memory = tf.zeros([batch, src_len, 1])
    mask = tf.ones([batch, src_len], tf.bool)
    return search(markov_step(table, attention), state, memory, mask, BOS, EOS,
                  SearchOptions(**options), forbidden=forbidden, seed=seed)


def table_from(rows, vocab=8, floor=-20.0):
    """Log-probabilities: given `rows[token] = {next: prob}`, everything else gets `floor`."""
    table = np.full((vocab, vocab), floor, np.float32)
    for token, nexts in rows.items():
        for nxt, p in nexts.items():
            table[token, nxt] = np.log(p)
    return table


def random_table(rng, vocab=8):
    return np.log(rng.dirichlet(np.ones(vocab), size=vocab)).astype(np.float32)


def outputs(found, row=0):
    """The hypotheses of one sentence as token lists (EOS included) and their scores."""
    lengths, scores = found.lengths.numpy()[row], found.scores.numpy()[row]
    return [list(found.tokens.numpy()[row, n, :lengths[n]]) for n in range(len(lengths))], list(scores)


def log_prob(table, seq):
    return float(sum(table[prev, nxt] for prev, nxt in zip((BOS, *seq), seq)))


def test_scripted_one_hot_logits_give_exactly_the_scripted_output():
    table = table_from({BOS: {5: 1.0}, 5: {6: 1.0}, 6: {4: 1.0}, 4: {EOS: 1.0}})
    for beam in (1, 3):
        found = run(table, batch=2, beam_size=beam, max_length=10)
        for row in range(2):
            tokens, scores = outputs(found, row)
            assert tokens[0] == [5, 6, 4, EOS]
            assert scores[0] == pytest.approx(0.0, abs=1e-5)


def test_beam_of_one_is_the_greedy_chain(rng):
    for _ in range(3):
        table = random_table(rng)
        chain, token = [], BOS
        while token != EOS and len(chain) < 6:
            token = int(np.argmax(table[token]))
            chain.append(token)
        if chain[-1] != EOS:
            chain.append(EOS)  # the length limit forces the end
        tokens, scores = outputs(run(table, beam_size=1, max_length=6))
        assert tokens[0] == chain
        assert scores[0] == pytest.approx(log_prob(table, chain), abs=1e-4)


def test_beam_finds_what_greedy_misses():
    # Greedy takes 4 (0.6) and then must spread over many tokens; 5 (0.4) then EOS (1.0) wins.
    table = table_from({BOS: {4: 0.6, 5: 0.4}, 4: {t: 0.2 for t in (1, 4, 5, 6, 7)},
                        5: {EOS: 1.0}, 1: {EOS: 1.0}, 6: {EOS: 1.0}, 7: {EOS: 1.0}})
    assert outputs(run(table, beam_size=1, max_length=5))[0][0][0] == 4
    tokens, scores = outputs(run(table, beam_size=2, max_length=5))
    assert tokens[0] == [5, EOS]
    assert scores[0] == pytest.approx(np.log(0.4), abs=1e-5)


def every_output(vocab, max_length):
    """All outputs the search can produce: up to max_length tokens, then EOS (forced at the limit)."""
    content = [t for t in range(vocab) if t != EOS]
    for length in range(max_length + 1):
        for seq in itertools.product(content, repeat=length):
            yield (*seq, EOS)


@pytest.mark.parametrize("seed", range(3))
def test_a_beam_as_wide_as_the_vocabulary_is_exhaustive_for_one_token(seed):
    vocab = 6
    table = np.log(np.random.default_rng(seed).dirichlet(np.ones(vocab) * 0.5, size=vocab)).astype(np.float32)
    best = max(every_output(vocab, 1), key=lambda seq: log_prob(table, seq))
    tokens, scores = outputs(run(table, beam_size=vocab, max_length=1))
    assert tokens[0] == list(best)
    assert scores[0] == pytest.approx(log_prob(table, best), abs=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_a_beam_wider_than_every_prefix_finds_the_exhaustive_best(seed):
    # A beam of V is exact only up to one token: past that, V prefixes can each beat the best
    # output's prefix and all end worse. A beam as wide as every prefix (V^L) is exact.
    vocab, max_length = 5, 3
    table = np.log(np.random.default_rng(seed).dirichlet(np.ones(vocab) * 0.5, size=vocab)).astype(np.float32)
    ranked = sorted(every_output(vocab, max_length), key=lambda seq: -log_prob(table, seq))
    tokens, scores = outputs(run(table, beam_size=vocab ** max_length, n_best=3, max_length=max_length))
    assert tokens == [list(seq) for seq in ranked[:3]]
    np.testing.assert_allclose(scores, [log_prob(table, seq) for seq in ranked[:3]], atol=1e-4)


def test_n_best_lists_are_sorted_distinct_and_scored(rng):
    table = random_table(rng)
    tokens, scores = outputs(run(table, beam_size=6, n_best=4, max_length=6))
    assert len(tokens) == 4 and len({tuple(t) for t in tokens}) == 4
    assert scores == sorted(scores, reverse=True)
    for seq, score in zip(tokens, scores):
        assert seq[-1] == EOS and EOS not in seq[:-1]
        assert score == pytest.approx(log_prob(table, seq), abs=1e-4)


def test_batched_results_equal_one_at_a_time(rng):
    table = random_table(rng)
    one = run(table, batch=1, beam_size=4, n_best=2, max_length=6)
    many = run(table, batch=5, beam_size=4, n_best=2, max_length=6)
    for row in range(5):
        assert outputs(many, row)[0] == outputs(one)[0]
        np.testing.assert_allclose(outputs(many, row)[1], outputs(one)[1], rtol=1e-6)


def test_the_first_step_runs_once_per_sentence_and_every_hypothesis_keeps_its_sentences_state():
    """Every hypothesis starts from BOS in its sentence's state: the first step runs on one row
    per sentence, the later ones on a row per hypothesis, each reading its own sentence's state
    (here: sentence s says 4 + s, then ends)."""
    rows = []

    def step(token, state, memory, mask):
        rows.append(int(tf.shape(token)[0]))  # search runs eagerly here: one call per step
        sentence = tf.cast(state[0][:, 0], tf.int32)
        says = tf.one_hot(4 + sentence, 8, on_value=0.0, off_value=-20.0)
        ends = tf.one_hot(tf.fill(tf.shape(sentence), EOS), 8, on_value=0.0, off_value=-20.0)
        logits = tf.where(tf.equal(token, BOS)[:, None], says, ends)
        return logits, state, tf.zeros([tf.shape(token)[0], tf.shape(mask)[1]])

    state, memory, mask = (tf.constant([[0.0], [1.0], [2.0]]),), tf.zeros([3, 2, 1]), tf.ones([3, 2], tf.bool)
    found = search(step, state, memory, mask, BOS, EOS, SearchOptions(beam_size=3, max_length=5))
    assert [outputs(found, s)[0][0] for s in range(3)] == [[4, EOS], [5, EOS], [6, EOS]]
    assert rows == [3, 9]


def test_sentences_of_different_lengths_leave_the_batch_independently():
    # Sentence 0 may only produce 1 token, sentence 1 up to 6: their search must not interact.
    table = table_from({BOS: {5: 1.0}, 5: {6: 0.9, EOS: 0.1}, 6: {EOS: 1.0}})
    state, memory = (tf.zeros([2, 1]),), tf.zeros([2, 6, 1])
    mask = tf.sequence_mask([1, 6], 6)
    found = search(markov_step(table), state, memory, mask, BOS, EOS,
                   SearchOptions(beam_size=2, max_length=50, max_length_ratio=1.0))
    assert outputs(found, 0)[0][0] == [5, EOS]
    assert outputs(found, 1)[0][0] == [5, 6, EOS]


def test_length_limits():
    table = table_from({BOS: {EOS: 0.6, 5: 0.4}, 5: {EOS: 0.7, 5: 0.3}})
    assert outputs(run(table, beam_size=2, max_length=10))[0][0] == [EOS]
    assert outputs(run(table, beam_size=2, max_length=10, min_length=3))[0][0] == [5, 5, 5, EOS]
    looping = table_from({BOS: {5: 1.0}, 5: {5: 1.0}})  # never ends unless forced
    assert outputs(run(looping, beam_size=2, max_length=4))[0][0] == [5, 5, 5, 5, EOS]
    assert outputs(run(looping, beam_size=2, src_len=2, max_length=50, max_length_ratio=1.5))[0][0] == [5, 5, 5, EOS]
    assert outputs(run(table, beam_size=2, src_len=4, max_length=10, min_length_ratio=0.5))[0][0] == [5, 5, EOS]


def test_forbidden_tokens_never_appear():
    table = table_from({BOS: {0: 0.9, 5: 0.1}, 0: {EOS: 1.0}, 5: {EOS: 1.0}})
    assert outputs(run(table, beam_size=2, max_length=5))[0][0] == [0, EOS]
    assert outputs(run(table, beam_size=2, max_length=5, forbidden=(0, BOS)))[0][0] == [5, EOS]


def test_repeated_ngrams_are_blocked():
    # Greedy search loops on "5 6" until the length limit; with blocking it must leave the loop.
    table = table_from({BOS: {5: 1.0}, 5: {6: 0.6, EOS: 0.4}, 6: {5: 0.6, EOS: 0.4}})
    free = outputs(run(table, beam_size=1, max_length=8))[0][0]
    assert free == [5, 6] * 4 + [EOS]
    assert outputs(run(table, beam_size=1, max_length=8, block_ngram_repeat=2))[0][0] == [5, 6, 5, EOS]
    for n in (1, 2, 3):
        for beam in (1, 3):
            tokens = outputs(run(table, beam_size=beam, max_length=8, block_ngram_repeat=n))[0][0][:-1]
            grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            assert len(grams) == len(set(grams)), (n, beam, tokens)


def test_length_penalty_favours_longer_outputs():
    # Short: EOS at once (log 0.45 = -0.80). Long: 0.55 x 0.9 x 0.9 x 0.9 (log -0.91, but -0.61
    # once divided by lp(4) = 1.5); each of its prefixes ranks above the short one on the way.
    table = table_from({BOS: {EOS: 0.45, 5: 0.55}, 5: {6: 0.9, EOS: 0.1}, 6: {7: 0.9, EOS: 0.1},
                        7: {EOS: 0.9, 4: 0.1}})
    assert outputs(run(table, beam_size=3, max_length=10))[0][0] == [EOS]
    tokens, scores = outputs(run(table, beam_size=3, max_length=10, length_penalty=1.0))
    assert tokens[0] == [5, 6, 7, EOS]
    assert scores[0] == pytest.approx(np.log(0.55 * 0.9 ** 3), abs=1e-4)  # scores stay log P


def test_coverage_penalty_favours_outputs_that_attend_to_all_the_source():
    # Both outputs are equally likely; only "4" attends to source position 1.
    table = table_from({BOS: {5: 0.5, 4: 0.5}, 5: {EOS: 1.0}, 4: {EOS: 1.0}})
    attention = np.tile([[1.0, 0.0]], (8, 1))
    attention[4] = [0.0, 1.0]  # the step after emitting 4 looks at position 1
    for beta, expected in ((0.0, None), (0.5, [4, EOS])):
        found = run(table, beam_size=2, n_best=2, attention=attention, coverage_penalty=beta,
                    max_length=4, keep_attention=True)
        tokens, _ = outputs(found)
        if expected:
            assert tokens[0] == expected
        np.testing.assert_allclose(found.attention.numpy()[0, 0, : len(tokens[0])].sum(-1), 1.0)


def test_kept_attention_follows_each_hypothesis():
    table = table_from({BOS: {5: 1.0}, 5: {6: 1.0}, 6: {EOS: 1.0}})
    attention = np.zeros((8, 3), np.float32)
    attention[BOS], attention[5], attention[6] = [1, 0, 0], [0, 1, 0], [0, 0, 1]
    found = run(table, src_len=3, attention=attention, beam_size=2, max_length=5, keep_attention=True)
    np.testing.assert_allclose(found.attention.numpy()[0, 0, :3], np.eye(3))


def test_sampling_is_repeatable_follows_top_k_and_scores_under_the_model(rng):
    table = random_table(rng)
    seed = tf.constant([7, 0])
    first = run(table, batch=20, beam_size=1, sample=True, max_length=6, seed=seed)
    again = run(table, batch=20, beam_size=1, sample=True, max_length=6, seed=seed)
    np.testing.assert_array_equal(first.tokens.numpy(), again.tokens.numpy())
    samples = [outputs(first, row) for row in range(20)]
    assert len({tuple(tokens[0]) for tokens, _ in samples}) > 1  # not one fixed output
    for tokens, scores in samples:
        assert scores[0] == pytest.approx(log_prob(table, tokens[0]), abs=1e-4)
    top2 = run(table, batch=20, beam_size=1, sample=True, sample_top_k=2, max_length=6, seed=seed)
    for row in range(20):
        seq = outputs(top2, row)[0][0]
        for prev, nxt in zip((BOS, *seq), seq):
            if not (nxt == EOS and prev != EOS and len(seq) == 7):  # the forced end may be any rank
                assert nxt in np.argsort(table[prev])[-2:]


def test_options_that_cannot_combine_are_rejected():
    from nmtkit.errors import UsageError

    for bad in (dict(beam_size=2, n_best=3), dict(beam_size=2, sample=True), dict(temperature=0.0),
                dict(min_length=5, max_length=4)):
        with pytest.raises(UsageError):
            SearchOptions(**bad).check()
