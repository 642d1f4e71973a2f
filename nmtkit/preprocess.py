"""`nmtkit preprocess`: raw parallel text -> subword model, vocabularies and encoded data."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from nmtkit import __version__
from nmtkit.atomic import atomic_dir
from nmtkit.config import Recipe
from nmtkit.data.prepared import MANIFEST, SRC_VOCAB, TGT_VOCAB, TOKENIZER, save_split
from nmtkit.data.textio import find_corpus, read_parallel
from nmtkit.data.tokenizer import SubwordTokenizer
from nmtkit.data.vocab import Vocab
from nmtkit.errors import DataError


def _clean(src: list[str], tgt: list[str]) -> tuple[list[str], list[str], Counter]:
    """Strip whitespace and drop pairs with an empty side, counting drops by reason."""
    dropped: Counter = Counter()
    kept_src, kept_tgt = [], []
    for s, t in zip(src, tgt):
        s, t = s.strip(), t.strip()
        if not s or not t:
            dropped["empty side"] += 1
            continue
        kept_src.append(s)
        kept_tgt.append(t)
    return kept_src, kept_tgt, dropped


def _drop_long(src, tgt, max_length: int, dropped: Counter):
    if not max_length:
        return src, tgt
    kept = [(s, t) for s, t in zip(src, tgt) if len(s) <= max_length and len(t) <= max_length]
    dropped[f"longer than {max_length} tokens"] += len(src) - len(kept)
    return [s for s, _ in kept], [t for _, t in kept]


def preprocess(recipe: Recipe, overwrite: bool = True) -> dict[str, Any]:
    """Build the prepared-data directory of `recipe`; returns its manifest."""
    data, vocab_cfg = recipe.data, recipe.vocab
    began = time.monotonic()
    files = {
        split: {lang: find_corpus(data.root, prefix, lang) for lang in (data.src_lang, data.tgt_lang)}
        for split, prefix in (("train", data.train), ("valid", data.valid))
    }
    raw = {split: read_parallel(f[data.src_lang], f[data.tgt_lang]) for split, f in files.items()}
    manifest: dict[str, Any] = {"nmtkit_version": __version__, "splits": {}}

    with atomic_dir(data.prepared, overwrite=overwrite) as out:
        train_src, train_tgt, train_dropped = _clean(*raw["train"])
        if not train_src:
            raise DataError(f"no usable training pairs in {files['train'][data.src_lang]}")
        tokenizer = SubwordTokenizer.train(
            train_src + train_tgt, out / TOKENIZER, vocab_cfg.type, vocab_cfg.size,
            vocab_cfg.character_coverage, log_path=out / "sentencepiece.log",
        )
        pieces = {"train": (tokenizer.encode(train_src), tokenizer.encode(train_tgt), train_dropped)}
        valid_src, valid_tgt, valid_dropped = _clean(*raw["valid"])
        pieces["valid"] = (tokenizer.encode(valid_src), tokenizer.encode(valid_tgt), valid_dropped)
        # Length filtering applies to training only: validation must measure every pair.
        src_p, tgt_p, dropped = pieces["train"]
        pieces["train"] = (*_drop_long(src_p, tgt_p, vocab_cfg.max_length, dropped), dropped)

        src_vocab, tgt_vocab = Vocab.from_corpus(pieces["train"][0]), Vocab.from_corpus(pieces["train"][1])
        src_vocab.save(out / SRC_VOCAB)
        tgt_vocab.save(out / TGT_VOCAB)
        for split, (src_p, tgt_p, dropped) in pieces.items():
            save_split(out, split, [src_vocab.encode(p) for p in src_p],
                       [tgt_vocab.encode(p) for p in tgt_p])
            manifest["splits"][split] = {
                "files": [str(files[split][data.src_lang]), str(files[split][data.tgt_lang])],
                "lines": len(raw[split][0]),
                "pairs": len(src_p),
                "dropped": dict(dropped),
                "src_tokens": sum(map(len, src_p)),
                "tgt_tokens": sum(map(len, tgt_p)),
            }
        manifest["tokenizer"] = {"type": vocab_cfg.type, "size": vocab_cfg.size,
                                 "character_coverage": vocab_cfg.character_coverage}
        manifest["vocab"] = {"src": len(src_vocab), "tgt": len(tgt_vocab)}
        manifest["seconds"] = round(time.monotonic() - began, 1)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
