"""Token <-> id vocabularies with fixed special tokens.

Ids 0-3 are always the specials, in this order: `<pad>` (padding, masked everywhere), `<unk>`
(a token not in the vocabulary), `<s>` (start of a target sequence, fed to the decoder first) and
`</s>` (end of sequence, predicted last). The rest follow in order of falling training frequency.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from nmtkit.errors import ModelDirError

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(len(SPECIALS))


class Vocab:
    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with the special tokens {SPECIALS}")
        self.tokens = list(tokens)
        self._ids = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def from_corpus(cls, sequences: Iterable[Sequence[str]], max_size: int = 0, min_freq: int = 1) -> "Vocab":
        return cls.from_counts(Counter(token for sequence in sequences for token in sequence),
                               max_size, min_freq)

    @classmethod
    def from_counts(cls, counts: Counter, max_size: int = 0, min_freq: int = 1) -> "Vocab":
        """Tokens seen at least `min_freq` times, the `max_size` most frequent (specials
        included; 0 = no limit)."""
        counts = Counter({token: n for token, n in counts.items() if n >= min_freq and token not in SPECIALS})
        # Ties broken by the token itself so that the same corpus always gives the same ids.
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        if max_size:
            ranked = ranked[: max(max_size - len(SPECIALS), 0)]
        return cls(SPECIALS + tuple(ranked))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._ids.get(token, UNK) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids up to the first `</s>`; padding and `<s>` are skipped."""
        out = []
        for index in ids:
            if index == EOS:
                break
            if index not in (PAD, BOS):
                out.append(self.tokens[index])
        return out

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.tokens, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ModelDirError(f"vocabulary file {path} not found") from None
        except (ValueError, TypeError) as exc:
            raise ModelDirError(f"{path}: not an nmtkit vocabulary ({exc})") from None
