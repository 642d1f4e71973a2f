"""Text <-> tokens at the level a recipe chooses, per side.

Levels:
- `char`: every character is a token; a space is the visible token `▁` (U+2581) and a literal
  U+2581 the token `<▁>`, so any text comes back exactly.
- `word`: Moses tokenization and detokenization for the side's language (sacremoses), without
  HTML escaping.
- `whitespace`: text that is already tokenized: split on whitespace, join with one space.
- `bpe`, `unigram`: sentencepiece (Kudo and Richardson 2018). Its model files travel with the
  prepared data and the model directory; one model can serve both sides.

Before any level, text is lowercased (`lowercase`) and NFKC-normalized (`normalize: nfkc`);
sentencepiece levels normalize with sentencepiece's own `nmt_nfkc` rules instead, or with none
(`identity`, spaces kept as they are) for `normalize: none`. With `normalize: none` (and
`byte_fallback` for sentencepiece) `char`, `bpe` and `unigram` give back any text exactly.

`tokenizers.json` in a prepared-data or model directory describes both sides (see `save_pair`).
"""

from __future__ import annotations

import io
import json
import os
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from nmtkit.errors import DataError, ModelDirError
from nmtkit.native_stderr import native_stderr_to

TOKENIZERS = "tokenizers.json"
SUBWORD_LEVELS = ("bpe", "unigram")
SPACE = "\u2581"  # the visible space of char-level text (sentencepiece's choice too)
LITERAL_SPACE_MARK = "<\u2581>"  # a U+2581 in the text itself, at char level


@dataclass(frozen=True)
class TokenizerSpec:
    level: str
    lang: str  # Moses' language rules (word level)
    lowercase: bool = False
    normalize: str = "nfkc"  # nfkc | none
    model: str = ""  # sentencepiece model file name in the same directory (subword levels)


class Tokenizer:
    """One side's tokenizer: `encode` lines to token lists, `decode` tokens to a line."""

    def __init__(self, spec: TokenizerSpec, directory: Path):
        self.spec = spec
        self._prepare = normalizer(spec)
        self._sp = self._moses = None
        if spec.level in SUBWORD_LEVELS:
            self._sp = _load_sentencepiece(directory / spec.model)
        elif spec.level == "word":
            from sacremoses import MosesDetokenizer, MosesTokenizer

            self._moses = MosesTokenizer(spec.lang), MosesDetokenizer(spec.lang)

    @property
    def fingerprint(self) -> tuple:
        """Equal fingerprints = the same tokenization (ensembles must share it)."""
        return (self.spec.level, self.spec.lang, self.spec.lowercase, self.spec.normalize,
                self._sp.serialized_model_proto() if self._sp else b"")

    def sentencepiece_model(self) -> bytes:
        """The serialized sentencepiece model (subword levels)."""
        return self._sp.serialized_model_proto()

    def encode(self, lines: Sequence[str]) -> list[list[str]]:
        lines = [self._prepare(line) for line in lines]
        level = self.spec.level
        if level in SUBWORD_LEVELS:
            return self._sp.encode(lines, out_type=str)
        if level == "char":
            return [[_char_token(c) for c in line] for line in lines]
        if level == "word":
            return [self._moses[0].tokenize(line, escape=False) for line in lines]
        return [line.split() for line in lines]

    def decode(self, tokens: Sequence[str]) -> str:
        level = self.spec.level
        if level in SUBWORD_LEVELS:
            return self._sp.decode_pieces(list(tokens))
        if level == "char":
            return "".join(" " if t == SPACE else SPACE if t == LITERAL_SPACE_MARK else t for t in tokens)
        if level == "word":
            return self._moses[1].detokenize(list(tokens))
        return " ".join(tokens)


class TokenizerPair:
    def __init__(self, src: Tokenizer, tgt: Tokenizer):
        self.src, self.tgt = src, tgt

    @property
    def fingerprint(self) -> tuple:
        return self.src.fingerprint, self.tgt.fingerprint


def _char_token(c: str) -> str:
    return SPACE if c == " " else LITERAL_SPACE_MARK if c == SPACE else c


def normalizer(spec: TokenizerSpec):
    """The text -> text step before tokenizing: lowercasing and (except for sentencepiece,
    which has its own) NFKC normalization."""
    nfkc = spec.normalize == "nfkc" and spec.level not in SUBWORD_LEVELS
    if spec.lowercase and nfkc:
        return lambda text: unicodedata.normalize("NFKC", text).lower()
    if nfkc:
        return lambda text: unicodedata.normalize("NFKC", text)
    if spec.lowercase:
        return str.lower
    return lambda text: text


def _load_sentencepiece(path: Path):
    import sentencepiece as spm

    if not path.is_file():
        raise ModelDirError(f"sentencepiece model {path} not found")
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as exc:
        raise ModelDirError(f"{path}: not a sentencepiece model ({exc})") from None


def train_sentencepiece(lines: Iterable[str], path: Path, level: str, size: int, character_coverage: float,
                        byte_fallback: bool, normalize: str, log_path: Path,
                        input_sentence_size: int = 200_000) -> None:
    """Train a sentencepiece model on `lines` (already lowercased if wanted; streamed, and a
    random sample of at most `input_sentence_size` of them kept) and write it to `path`."""
    import sentencepiece as spm

    model = io.BytesIO()
    normalization = {"normalization_rule_name": "nmt_nfkc"} if normalize == "nfkc" else {
        "normalization_rule_name": "identity", "remove_extra_whitespaces": False}
    with native_stderr_to(log_path):
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=model,
                model_type=level,
                vocab_size=size,
                character_coverage=character_coverage,
                byte_fallback=byte_fallback,
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=True,
                # Small corpora may hold fewer pieces than asked for: take what there is.
                hard_vocab_limit=False,
                num_threads=os.cpu_count() or 1,
                **normalization,
            )
        except RuntimeError as exc:
            raise DataError(f"sentencepiece training failed: {exc}") from None
    path.write_bytes(model.getvalue())


def save_pair(directory: Path, src: TokenizerSpec, tgt: TokenizerSpec) -> None:
    text = json.dumps({"src": asdict(src), "tgt": asdict(tgt)}, indent=2, ensure_ascii=False)
    (directory / TOKENIZERS).write_text(text + "\n", encoding="utf-8")


def model_files(directory: Path) -> list[str]:
    """The files that make up `directory`'s tokenizers (to copy them elsewhere)."""
    specs = _read_specs(directory)
    return [TOKENIZERS] + sorted({spec.model for spec in specs if spec.model})


def load_pair(directory: Path) -> TokenizerPair:
    src, tgt = _read_specs(directory)
    return TokenizerPair(Tokenizer(src, directory), Tokenizer(tgt, directory))


def _read_specs(directory: Path) -> tuple[TokenizerSpec, TokenizerSpec]:
    path = directory / TOKENIZERS
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return TokenizerSpec(**raw["src"]), TokenizerSpec(**raw["tgt"])
    except FileNotFoundError:
        raise ModelDirError(f"{directory} holds no {TOKENIZERS} (made by an older nmtkit?): run "
                            "`nmtkit preprocess` (and train) again") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelDirError(f"{path}: unreadable ({exc})") from None
