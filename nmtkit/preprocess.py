"""`nmtkit preprocess`: raw parallel text -> tokenizers, vocabularies, encoded data, embeddings.

Everything streams, so memory stays flat however large the corpus: sentencepiece (when a side
uses it) trains on the cleaned training text (a random sample of `vocab.input_sentence_size`
sentences, which bounds its memory);
one pass tokenizes and cleans every pair into token files while counting tokens; the vocabularies
follow from the counts; a last pass turns the token files into the id arrays training reads.
The output directory appears only when complete (`atomic_dir`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from contextlib import ExitStack
from itertools import chain
from pathlib import Path
from typing import Any, Iterator

from nmtkit import __version__
from nmtkit.atomic import atomic_dir
from nmtkit.config import Recipe
from nmtkit.data.embeddings import build_embeddings
from nmtkit.data.prepared import MANIFEST, SIDES, SRC_VOCAB, TGT_VOCAB, SplitWriter, read_tokens, token_file
from nmtkit.data.textio import find_corpus, iter_parallel
from nmtkit.data.tokenizer import (SUBWORD_LEVELS, TokenizerPair, TokenizerSpec, load_pair, normalizer,
                                   save_pair, train_sentencepiece)
from nmtkit.data.vocab import UNK, Vocab
from nmtkit.errors import DataError
from nmtkit.progress import WorkProgress

CHUNK = 10_000  # lines tokenized at once (sentencepiece encodes a batch on all cores)


def preprocess(recipe: Recipe, overwrite: bool = True, progress: WorkProgress | None = None) -> dict[str, Any]:
    """Build the prepared-data directory of `recipe`; returns its manifest. `progress` counts
    the lines and pairs each stage reads."""
    progress = progress or WorkProgress(quiet=True)
    data = recipe.data
    began = time.monotonic()
    files = {split: tuple(find_corpus(data.root, prefix, lang) for lang in (data.src_lang, data.tgt_lang))
             for split, prefix in (("train", data.train), ("valid", data.valid))}
    manifest: dict[str, Any] = {"nmtkit_version": __version__, "splits": {}}
    problems: list[DataError] = []
    if next(_clean_side(recipe, files["train"], "src", problems), None) is None:
        raise problems[0] if problems else DataError(f"no usable training pairs in {files['train'][0]} and {files['train'][1]}")
    with atomic_dir(data.prepared, overwrite=overwrite) as out:
        tokenizers = _make_tokenizers(recipe, files["train"], out, progress)
        counts = {side: Counter() for side in SIDES}
        for split in ("train", "valid"):
            # Length rules apply to training only: validation must measure every pair.
            manifest["splits"][split] = _tokenize_split(
                recipe, files[split], tokenizers, out, split, counts if split == "train" else None, progress)
            if not manifest["splits"][split]["pairs"]:
                raise DataError(f"no {split} pair is left in {files[split][0]} and {files[split][1]} "
                                f"after cleaning: {manifest['splits'][split]['dropped']}")
        vocabs = _build_vocabs(recipe, counts)
        vocabs[0].save(out / SRC_VOCAB)
        vocabs[1].save(out / TGT_VOCAB)
        for split in ("train", "valid"):
            manifest["splits"][split]["oov_rate"] = _encode_split(out, split, vocabs, progress)
        progress.end_stage()
        manifest["tokenizers"] = {side: vars(getattr(tokenizers, side).spec) for side in SIDES}
        manifest["vocab"] = {"src": len(vocabs[0]), "tgt": len(vocabs[1]), "joint": recipe.vocab.joint}
        manifest["settings"] = {"vocab": vars(recipe.vocab), "clean": vars(recipe.clean)}
        embeddings = build_embeddings(recipe, out, vocabs, {side: token_file(out, "train", side) for side in SIDES})
        if embeddings:
            manifest["embeddings"] = embeddings
        for path in out.glob(".*.tokens"):
            path.unlink()
        manifest["seconds"] = round(time.monotonic() - began, 1)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _make_tokenizers(recipe: Recipe, train_files: tuple[Path, Path], out: Path,
                     progress: WorkProgress) -> TokenizerPair:
    """Write both sides' tokenizers into `out`, training sentencepiece models where asked."""
    vocab = recipe.vocab
    levels = {"src": vocab.src_level, "tgt": vocab.tgt_level}
    langs = {"src": recipe.data.src_lang, "tgt": recipe.data.tgt_lang}
    specs = {side: TokenizerSpec(levels[side], langs[side], vocab.lowercase, vocab.normalize)
             for side in SIDES}
    subword = [side for side in SIDES if levels[side] in SUBWORD_LEVELS]
    joint = len(subword) == 2 and levels["src"] == levels["tgt"] and vocab.subword_model == "joint"
    groups = [subword] if joint else [[side] for side in subword]
    for sides in groups:
        name = "subwords.model" if joint else f"{sides[0]}.subwords.model"
        problems: list[DataError] = []
        progress.stage(f"sentencepiece {'+'.join(sides)}", "lines")
        lines = progress.counting(chain.from_iterable(_clean_side(recipe, train_files, side, problems)
                                                      for side in sides))
        spec = specs[sides[0]]
        prepare = normalizer(spec)
        train_sentencepiece(map(prepare, lines), out / name, spec.level, vocab.size, vocab.character_coverage,
                            vocab.byte_fallback, vocab.normalize, log_path=out / f"{name}.log",
                            input_sentence_size=vocab.input_sentence_size)
        if problems:  # raised inside sentencepiece's reading loop: raise it here, whole
            raise problems[0]
        for side in sides:
            specs[side] = TokenizerSpec(**{**vars(specs[side]), "model": name})
    save_pair(out, specs["src"], specs["tgt"])
    return load_pair(out)


def _clean_side(recipe: Recipe, files: tuple[Path, Path], side: str, problems: list) -> Iterator[str]:
    """One side of the pairs that survive stripping and the empty-side rule; a data error
    ends the stream and is put in `problems` (sentencepiece would swallow it)."""
    index = SIDES.index(side)
    try:
        for pair in iter_parallel(*files):
            pair = _kept(pair, recipe.clean.strip)
            if pair:
                yield pair[index]
    except DataError as exc:
        problems.append(exc)


def _kept(pair: tuple[str, str], strip: bool) -> tuple[str, str] | None:
    """The pair as training reads it (stripped if asked), or None when a side is empty."""
    if strip:
        pair = (pair[0].strip(), pair[1].strip())
    return pair if pair[0] and pair[1] else None


def _tokenize_split(recipe: Recipe, files: tuple[Path, Path], tokenizers: TokenizerPair, out: Path,
                    split: str, counts: dict[str, Counter] | None, progress: WorkProgress) -> dict[str, Any]:
    """Clean and tokenize a split into its token files (`token_file`); count tokens into
    `counts` when given (and apply the length rules)."""
    clean = recipe.clean
    dropped: Counter = Counter()
    lines = pairs = 0
    tokens = {side: 0 for side in SIDES}
    progress.stage(f"tokenize {split}", "pairs")
    with ExitStack() as stack:
        sinks = {side: stack.enter_context(open(token_file(out, split, side), "w", encoding="utf-8",
                                                newline="\n")) for side in SIDES}
        for chunk in _chunks(iter_parallel(*files)):
            lines += len(chunk)
            progress.advance(len(chunk))
            kept = [pair for pair in (_kept(pair, clean.strip) for pair in chunk) if pair]
            dropped["empty side"] += len(chunk) - len(kept)
            encoded = zip(tokenizers.src.encode([s for s, _ in kept]), tokenizers.tgt.encode([t for _, t in kept]))
            for src, tgt in encoded:
                if counts is not None:
                    reason = _too_long(len(src), len(tgt), clean)
                    if reason:
                        dropped[reason] += 1
                        continue
                    counts["src"].update(src)
                    counts["tgt"].update(tgt)
                for side, seq in (("src", src), ("tgt", tgt)):
                    sinks[side].write(" ".join(seq) + "\n")
                    tokens[side] += len(seq)
                pairs += 1
    return {"files": [str(f) for f in files], "lines": lines, "pairs": pairs, "dropped": dict(dropped),
            "src_tokens": tokens["src"], "tgt_tokens": tokens["tgt"]}


def _too_long(src_len: int, tgt_len: int, clean) -> str | None:
    """The rule a training pair breaks, named as the manifest counts it; None if none."""
    if clean.max_src_length and src_len > clean.max_src_length:
        return f"source longer than {clean.max_src_length} tokens"
    if clean.max_tgt_length and tgt_len > clean.max_tgt_length:
        return f"target longer than {clean.max_tgt_length} tokens"
    if clean.max_length_ratio and max(src_len, tgt_len) > clean.max_length_ratio * max(min(src_len, tgt_len), 1):
        return f"length ratio above {clean.max_length_ratio:g}"
    return None


def _build_vocabs(recipe: Recipe, counts: dict[str, Counter]) -> tuple[Vocab, Vocab]:
    """Vocabularies from training counts. Subword sides keep every piece they use (their size
    is the sentencepiece model's); char/word/whitespace sides apply size and min_freq."""
    vocab = recipe.vocab

    def limits(level: str) -> tuple[int, int]:
        return (0, 1) if level in SUBWORD_LEVELS else (vocab.size, vocab.min_freq)

    if vocab.joint:  # one table for both sides, under the source level's limits
        joint = Vocab.from_counts(counts["src"] + counts["tgt"], *limits(vocab.src_level))
        return joint, joint
    return (Vocab.from_counts(counts["src"], *limits(vocab.src_level)),
            Vocab.from_counts(counts["tgt"], *limits(vocab.tgt_level)))


def _encode_split(out: Path, split: str, vocabs: tuple[Vocab, Vocab], progress: WorkProgress) -> dict[str, float]:
    """Token files -> id arrays; returns the share of tokens outside the vocabulary, in %."""
    writer = SplitWriter(out, split)
    unknown, total = Counter(), Counter()
    progress.stage(f"encode {split}", "pairs")
    for pair in progress.counting(zip(*(read_tokens(token_file(out, split, side)) for side in SIDES))):
        ids = []
        for side, tokens, vocab in zip(SIDES, pair, vocabs):
            seq = vocab.encode(tokens)
            unknown[side] += seq.count(UNK)
            total[side] += len(seq)
            ids.append(seq)
        writer.add(*ids)
    writer.close()
    return {side: round(100 * unknown[side] / max(total[side], 1), 3) for side in SIDES}


def _chunks(pairs: Iterator[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    chunk = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
