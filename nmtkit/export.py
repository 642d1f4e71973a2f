"""`nmtkit export`: a model, or an ensemble, as one self-contained TensorFlow SavedModel.

The SavedModel holds everything `nmtkit translate` does between reading a line and writing its
translation, as graph ops: the tokenizer (sentencepiece through tensorflow-text's
`SentencepieceTokenizer` over the model's own sentencepiece model; characters and whitespace
with TensorFlow's string ops), the vocabularies as lookup tables, the encoder and the search with
the settings of the model's recipe (and the command's overrides). It also batches like
`translate`: sentences sorted by length, `batch_size` at a time, padded to widths in steps of 8,
so each sentence gets exactly the translation `nmtkit translate` gives it.

Signatures:
- `serving_default`: `text` (tf.string [batch], raw lines) -> `translation` (tf.string [batch])
  and `log_prob` (float32 [batch]). Blank lines give "" and 0.
- `translate_ids`: `source_ids` (int32 [batch, len], the source vocabulary's ids, 0-padded) ->
  `target_ids` (int32 [batch, len], EOS excluded, 0-padded), `target_lengths`, `log_prob`.
  Moses word level cannot be tokenized in a graph, so such models export this one only; the
  vocabularies travel in `assets.extra/`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import tensorflow as tf

from nmtkit.artifacts import RECIPE
from nmtkit.atomic import atomic_dir
from nmtkit.data.prepared import SRC_VOCAB, TGT_VOCAB
from nmtkit.data.tokenizer import LITERAL_SPACE_MARK, SPACE, SUBWORD_LEVELS, Tokenizer, model_files
from nmtkit.data.vocab import EOS, PAD, UNK
from nmtkit.errors import UsageError
from nmtkit.translate import Translator

TEXT_SIGNATURE = "serving_default"
IDS_SIGNATURE = "translate_ids"
GRAPH_LEVELS = (*SUBWORD_LEVELS, "char", "whitespace")  # the levels a graph can tokenize
EXTRA = "assets.extra"  # TensorFlow Serving's folder for files beside a SavedModel
# What Python's str.strip() removes (str.isspace): RE2's \s is ASCII only.
BLANK = r"[\t\n\x0b\x0c\r\x1c-\x1f\x85\p{Z}]*"


def export(model_dirs: Sequence[Path], out_dir: Path, overrides: dict, overwrite: bool = False) -> list[str]:
    """Write the SavedModel of `model_dirs` (one model or an ensemble) to `out_dir`; returns
    the names of the signatures written."""
    translator = Translator(model_dirs, overrides, saves_graph=True)
    if translator.settings.replace_unk:
        raise UsageError("replace_unk is not exported: export with --no-replace-unk")
    module = _Exported(translator)
    signatures = {IDS_SIGNATURE: module.translate_ids}
    if module.tokenizes:
        signatures[TEXT_SIGNATURE] = module.translate_text
    with atomic_dir(out_dir, overwrite) as staging:
        tf.saved_model.save(module, str(staging), signatures=signatures)
        extra = staging / EXTRA
        extra.mkdir()
        first = Path(model_dirs[0])
        for name in (*model_files(first), SRC_VOCAB, TGT_VOCAB, RECIPE):
            shutil.copyfile(first / name, extra / name)
    return sorted(signatures)


class _Exported(tf.Module):
    """The graph of one translator: its tokenizers, vocabularies and search."""

    def __init__(self, translator: Translator):
        super().__init__()
        self.translator = translator
        src, tgt = translator.tokenizers.src, translator.tokenizers.tgt
        self.tokenizes = src.spec.level in GRAPH_LEVELS and tgt.spec.level in GRAPH_LEVELS
        if self.tokenizes:
            self.src_tokenizer = _GraphTokenizer(src)
            self.tgt_tokenizer = self.src_tokenizer if tgt.fingerprint == src.fingerprint else _GraphTokenizer(tgt)
            tokens = translator.src_vocab.tokens
            self.src_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(tokens), tf.range(len(tokens), dtype=tf.int32)),
                default_value=UNK)
            # Only then: saving traces every function the module holds.
            self.translate_text = tf.function(self._translate_text, autograph=False, input_signature=[
                tf.TensorSpec([None], tf.string, name="text")])
        self.tgt_tokens = tf.constant(translator.tgt_vocab.tokens)
        self.translate_ids = tf.function(self._translate_ids, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="source_ids")])
        # The variables the search reads (the weights, and tables made from them) tracked, so
        # that they are saved; not the Keras models, which would add their own traced calls
        # (training graphs, with gradients) to what a server loads.
        self.weights = list(self.translate_ids.get_concrete_function().variables)

    def _translate_text(self, text):
        text = tf.strings.regex_replace(text, "[\r\n]+$", "")
        pieces = self.src_tokenizer.encode(text)
        ids = tf.ragged.map_flat_values(self.src_table.lookup, pieces)
        # Blank lines are not searched (as in `Translator.translate`), whatever their pieces.
        blank = tf.strings.regex_full_match(text, BLANK)
        ids = tf.ragged.boolean_mask(ids, ids.with_flat_values(tf.repeat(~blank, ids.row_lengths())))
        tokens, lengths, scores = self._search(ids)
        pieces = tf.RaggedTensor.from_tensor(tf.gather(self.tgt_tokens, tokens), lengths=lengths)
        return {"translation": self.tgt_tokenizer.decode(pieces), "log_prob": scores}

    def _translate_ids(self, source_ids):
        tokens, lengths, scores = self._search(tf.RaggedTensor.from_tensor(source_ids, padding=PAD))
        return {"target_ids": tokens, "target_lengths": lengths, "log_prob": scores}

    def _search(self, ids: tf.RaggedTensor):
        """Search the non-empty rows of `ids` as `Translator.translate` does: sorted by length,
        `batch_size` at a time. Returns the best hypotheses' tokens [rows, width] (EOS
        excluded, 0-padded), their lengths and log-probabilities; empty rows give none and 0."""
        rows = tf.shape(ids.row_lengths())[0]
        todo = tf.cast(tf.where(ids.row_lengths() > 0)[:, 0], tf.int32)
        lengths = tf.gather(ids.row_lengths(), todo)
        order = tf.gather(todo, tf.argsort(lengths, stable=True))
        batch = self.translator.settings.batch_size
        width = self.translator.options.max_length + 1  # the longest a search can return, EOS included

        def body(start, tokens, scores):
            chunk = order[start: start + batch]
            src = tf.gather(ids, chunk)
            dense = src.to_tensor(PAD)
            src_width = (tf.shape(dense)[1] + 7) // 8 * 8  # as `translate` pads
            found = self.translator.search_ids(tf.pad(dense, [[0, 0], [0, src_width - tf.shape(dense)[1]]]))
            best = found.tokens[:, 0]
            best = tf.pad(best, [[0, 0], [0, width - tf.shape(best)[1]]], constant_values=EOS)
            return (start + batch, tokens.write(start // batch, best), scores.write(start // batch, found.scores[:, 0]))

        _, tokens, scores = tf.while_loop(
            lambda start, *_: start < tf.size(order), body,
            (tf.constant(0), tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False),
             tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)))
        where = order[:, None]
        tokens = tf.scatter_nd(where, tf.reshape(tokens.concat(), [-1, width]), [rows, width])
        scores = tf.scatter_nd(where, scores.concat(), [rows])
        found = tf.scatter_nd(where, tf.ones_like(order, tf.bool), [rows])
        out_lengths = tf.where(found, tf.argmax(tf.cast(tf.equal(tokens, EOS), tf.int32), axis=1, output_type=tf.int32), 0)
        tokens = tf.where(tf.sequence_mask(out_lengths, width), tokens, PAD)
        return tokens[:, : tf.reduce_max(tf.concat([out_lengths, [0]], 0))], out_lengths, scores


class _GraphTokenizer(tf.Module):
    """One side's `Tokenizer` as graph ops: encode text [batch] to ragged pieces, decode ragged
    pieces to text."""

    def __init__(self, tokenizer: Tokenizer):
        super().__init__()
        self.spec = tokenizer.spec
        self.sentencepiece = None
        if self.spec.level in SUBWORD_LEVELS:
            self.sentencepiece = _tensorflow_text().SentencepieceTokenizer(
                model=tokenizer.sentencepiece_model(), out_type=tf.string)

    def encode(self, text):
        if self.spec.normalize == "nfkc" and self.sentencepiece is None:
            text = _tensorflow_text().normalize_utf8(text, "NFKC")
        if self.spec.lowercase:
            text = tf.strings.lower(text, encoding="utf-8")
        if self.sentencepiece is not None:
            return self.sentencepiece.tokenize(text)
        if self.spec.level == "char":
            chars = tf.strings.unicode_split(text, "UTF-8")
            return tf.ragged.map_flat_values(_swap, chars, " ", SPACE, SPACE, LITERAL_SPACE_MARK)
        return _tensorflow_text().WhitespaceTokenizer().tokenize(text)

    def decode(self, pieces):
        if self.sentencepiece is not None:
            return self.sentencepiece.detokenize(pieces)
        if self.spec.level == "char":
            chars = tf.ragged.map_flat_values(_swap, pieces, SPACE, " ", LITERAL_SPACE_MARK, SPACE)
            return tf.strings.reduce_join(chars, axis=-1)
        return tf.strings.reduce_join(pieces, axis=-1, separator=" ")


def _tensorflow_text():
    try:
        import tensorflow_text
    except ImportError:
        raise UsageError("nmtkit export needs tensorflow-text: pip install 'nmtkit[export]'") from None
    return tensorflow_text


def _swap(strings, a, a_to, b, b_to):
    """`strings` with `a` made `a_to` and `b` made `b_to` (whole strings only)."""
    return tf.where(tf.equal(strings, a), a_to, tf.where(tf.equal(strings, b), b_to, strings))
