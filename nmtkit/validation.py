"""Validation during training: loss, perplexity, accuracy, and BLEU / chrF of greedy translations."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from nmtkit.data.batching import Batch, batches, pad
from nmtkit.data.prepared import Split
from nmtkit.data.tokenizer import Tokenizer
from nmtkit.data.vocab import BOS, EOS, PAD, Vocab
from nmtkit.losses import token_losses
from nmtkit.search import SearchOptions, search

_BATCH_SIGNATURE = [tf.TensorSpec([None, None], tf.int32)] * 3
# Whether a higher value is better, per metric.
HIGHER_IS_BETTER = {"valid_loss": False, "valid_bleu": True, "valid_chrf": True}


class Validator:
    """Scores a model on the validation split.

    Loss, perplexity and token accuracy come from teacher forcing. With `metric` "bleu" or "chrf"
    the split is also translated greedily (the model's own search, batches of `batch_size`) and
    scored with sacrebleu against the detokenized references; that is for choosing and stopping,
    so it reads the references back from their ids rather than from the raw files.
    """

    def __init__(self, model, split: Split, batch_size: int, metric: str,
                 tokenizer: Tokenizer, tgt_vocab: Vocab):
        self.model, self.metric = model, metric
        self.batches: list[Batch] = list(batches(split.src, split.tgt, batch_size))
        self.eval_step = tf.function(self._eval_step, autograph=False, input_signature=_BATCH_SIGNATURE)
        if metric in ("bleu", "chrf"):
            self.tokenizer, self.tgt_vocab = tokenizer, tgt_vocab
            order = np.argsort([len(s) for s in split.src], kind="stable")
            self.sources = [pad([split.src[i] for i in order[k: k + batch_size]])
                            for k in range(0, len(order), batch_size)]
            self.references = [self._text(split.tgt[i]) for i in order]
            longest = max(len(t) for t in split.tgt)
            options = SearchOptions(beam_size=1, max_length=2 * longest + 10)
            self.search = tf.function(
                lambda src: search(model.step_function(), *model.encode(src), BOS, EOS, options,
                                   forbidden=(PAD, BOS)),
                autograph=False, input_signature=[tf.TensorSpec([None, None], tf.int32)])

    def _eval_step(self, src, tgt_in, tgt_out):
        logits = self.model((src, tgt_in), training=False)
        nll_sum, tokens = token_losses(logits, tgt_out, 0.0)
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tgt_out)
        mask = tf.not_equal(tgt_out, PAD)
        return nll_sum, tokens, tf.reduce_sum(tf.cast(hits & mask, tf.float32))

    def _text(self, ids) -> str:
        return self.tokenizer.decode(self.tgt_vocab.decode(ids))

    def __call__(self) -> dict[str, float]:
        nll = tokens = hits = 0.0
        for batch in self.batches:
            b_nll, b_tokens, b_hits = self.eval_step(*batch)
            nll, tokens, hits = nll + float(b_nll), tokens + float(b_tokens), hits + float(b_hits)
        loss = nll / tokens
        metrics = {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0)),
                   "valid_acc": 100.0 * hits / tokens}
        if self.metric in ("bleu", "chrf"):
            from sacrebleu.metrics import BLEU, CHRF

            hyps = []
            for src in self.sources:
                found = self.search(tf.constant(src))
                hyps += [self._text(row[0]) for row in found.tokens.numpy()]
            metrics["valid_bleu"] = BLEU().corpus_score(hyps, [self.references]).score
            metrics["valid_chrf"] = CHRF().corpus_score(hyps, [self.references]).score
        return metrics
