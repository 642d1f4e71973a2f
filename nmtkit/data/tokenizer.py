"""Subword tokenization with sentencepiece (Kudo and Richardson 2018).

One joint model is trained on both sides of the training corpus; the model file travels with
the prepared data and the model directory, so `translate` tokenizes and detokenizes by itself.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import sentencepiece as spm

from nmtkit.errors import DataError, ModelDirError
from nmtkit.native_stderr import native_stderr_to


class SubwordTokenizer:
    def __init__(self, model_path: Path):
        if not model_path.is_file():
            raise ModelDirError(f"tokenizer model {model_path} not found")
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(model_path))
        except (OSError, RuntimeError) as exc:
            raise ModelDirError(f"{model_path}: not a sentencepiece model ({exc})") from None
        self.serialized = self._sp.serialized_model_proto()  # equal bytes = the same tokenizer

    @staticmethod
    def train(
        lines: Sequence[str],
        model_path: Path,
        model_type: str,
        vocab_size: int,
        character_coverage: float,
        log_path: Path,
    ) -> "SubwordTokenizer":
        """Train on `lines` and write the model to `model_path` (a `.model` file)."""
        model = io.BytesIO()
        with native_stderr_to(log_path):
            try:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=iter(lines),
                    model_writer=model,
                    model_type=model_type,
                    vocab_size=vocab_size,
                    character_coverage=character_coverage,
                    # Small corpora may hold fewer pieces than asked for: take what there is.
                    hard_vocab_limit=False,
                    num_threads=os.cpu_count() or 1,
                )
            except RuntimeError as exc:
                raise DataError(f"sentencepiece training failed: {exc}") from None
        model_path.write_bytes(model.getvalue())
        return SubwordTokenizer(model_path)

    def encode(self, lines: Sequence[str]) -> list[list[str]]:
        return self._sp.encode(list(lines), out_type=str)

    def decode(self, pieces: Sequence[str]) -> str:
        return self._sp.decode_pieces(list(pieces))
