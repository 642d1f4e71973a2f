import numpy as np

from nmtkit.data.batching import batches, make_batch
from nmtkit.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab


def test_vocab_orders_by_frequency_after_specials(tmp_path):
    vocab = Vocab.from_corpus([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab.tokens[: len(SPECIALS)] == list(SPECIALS)
    assert vocab.tokens[4:] == ["b", "a", "c"]
    assert vocab.encode(["a", "zzz"]) == [5, UNK]
    assert vocab.decode([BOS, 4, 5, PAD, EOS, 6]) == ["b", "a"]
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").tokens == vocab.tokens


def test_make_batch_shifts_targets():
    batch = make_batch([[5, 6], [7]], [[8], [9, 10]])
    assert batch.src.tolist() == [[5, 6], [7, PAD]]
    assert batch.tgt_in.tolist() == [[BOS, 8, PAD], [BOS, 9, 10]]
    assert batch.tgt_out.tolist() == [[8, EOS, PAD], [9, 10, EOS]]


def test_batches_cover_every_pair_once_with_similar_lengths(rng):
    src = [np.arange(4, 4 + n) for n in rng.integers(1, 30, 500)]
    tgt = [np.arange(4, 4 + n) for n in rng.integers(1, 30, 500)]
    all_lengths = np.array([len(t) for t in tgt]) + 1  # with EOS
    seen = []
    for batch in batches(src, tgt, 32, rng):
        lengths = (batch.tgt_out != PAD).sum(1)
        seen.extend(map(tuple, (batch.src[i][batch.src[i] != PAD] for i in range(len(lengths)))))
        # Length-sorted buckets: every pair strictly between a batch's shortest and longest
        # target is in that batch, so target padding is as small as it can be.
        lo, hi = lengths.min(), lengths.max()
        inside = (all_lengths > lo) & (all_lengths < hi)
        assert inside.sum() == ((lengths > lo) & (lengths < hi)).sum()
    assert sorted(seen) == sorted(tuple(s) for s in src)


def test_prepared_splits_round_trip_memory_mapped(tmp_path):
    from nmtkit.data.prepared import SplitWriter, load_split

    src, tgt = [[5, 6, 7], [8], [9, 10]], [[4], [4, 5, 6, 7], [11]]
    writer = SplitWriter(tmp_path, "train")
    writer.CHUNK = 2  # several chunks per side
    for s, t in zip(src, tgt):
        writer.add(s, t)
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"train.{side}.{kind}.npy" for side in ("src", "tgt") for kind in ("ids", "offsets")]
    split = load_split(tmp_path, "train")
    assert isinstance(split.src.ids, np.memmap)  # read from disk on demand, not held in memory
    assert [list(s) for s in split.src] == src and [list(t) for t in split.tgt] == tgt
    assert split.tgt.lengths().tolist() == [1, 4, 1]
