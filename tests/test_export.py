"""`nmtkit export`: the SavedModel, loaded by a process that imports only tensorflow and
tensorflow_text, translates exactly as `nmtkit translate` does with the same settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke

# Search settings away from the recipe's, and batches small enough that the inputs span several.
SETTINGS = ["--beam", "4", "--length-penalty", "0.6", "--batch-size", "7", "--max-length", "14"]
# What the fresh process runs: tensorflow and tensorflow_text only, never nmtkit.
LOADER = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the sentencepiece ops)

saved, signature, inputs = sys.argv[1], sys.argv[2], json.load(sys.stdin)
translate = tf.saved_model.load(saved).signatures[signature]
if signature == "serving_default":
    out = translate(text=tf.constant(inputs, tf.string))
    result = {"translation": [t.decode("utf-8") for t in out["translation"].numpy()]}
else:
    out = translate(source_ids=tf.ragged.constant(inputs, tf.int32).to_tensor())
    result = {"target_ids": [row[:n].tolist() for row, n in zip(out["target_ids"].numpy(),
                                                                out["target_lengths"].numpy())]}
result["log_prob"] = out["log_prob"].numpy().tolist()
result["modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "nmtkit")
print(json.dumps(result))
"""


def nmtkit(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nmtkit.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def load_and_run(saved: Path, inputs: list, signature: str = "serving_default") -> dict:
    done = subprocess.run([sys.executable, "-c", LOADER, str(saved), signature], input=json.dumps(inputs),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result.pop("modules") == []
    return result


def translated(model_args: list[str], lines: list[str]) -> tuple[list[str], list[float]]:
    """`nmtkit translate --scores` with SETTINGS in float32: (translations, log-probabilities)."""
    done = nmtkit("translate", *model_args, *SETTINGS, "--precision", "float32", "--scores", "-q",
                  stdin="".join(line + "\n" for line in lines))
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t", 1) for line in done.stdout.splitlines()]
    return [text for _, text in rows], [float(score) for score, _ in rows]


OVERRIDES = {"beam_size": 4, "length_penalty": 0.6, "batch_size": 7, "max_length": 14, "precision": "float32"}


def translated_here(models: list[Path], lines: list[str]) -> tuple[list[str], list[float]]:
    """What `translated` gives, in this process: the Translator `nmtkit translate` makes."""
    from nmtkit.translate import Translator

    found = Translator(models, OVERRIDES, keep_compiled=True).translate(lines)
    return [t.text for t in found], [t.candidates[0].score if t.candidates else 0.0 for t in found]


def export_here(models: list[Path], saved: Path) -> list[str]:
    from nmtkit.export import export

    return export(models, saved, OVERRIDES)


def source_lines(corpus: Path, count: int = 40) -> list[str]:
    lines = (corpus / "test.txt").read_text(encoding="utf-8").splitlines()[:count]
    # Blank and whitespace-only lines (no search), and one the tokenizer keeps nothing of.
    return lines[:5] + ["", "   ", "\u200b"] + lines[5:] + ["\u3000"]


def assert_same(exported: dict, expected: tuple[list[str], list[float]]) -> None:
    texts, scores = expected
    assert exported["translation"] == texts
    assert exported["log_prob"] == pytest.approx(scores, abs=1e-4)  # translate prints 4 decimals


def test_the_export_translates_like_translate(trained_model, dates_dir, tmp_path):
    saved = tmp_path / "saved"
    done = nmtkit("export", str(trained_model), str(saved), *SETTINGS)
    assert done.returncode == 0, done.stderr
    assert "signatures serving_default, translate_ids" in done.stderr
    lines = source_lines(dates_dir)
    assert_same(load_and_run(saved, lines), translated(["-m", str(trained_model)], lines))
    assert (saved / "assets.extra" / "tgt.vocab.json").is_file()
    shown = subprocess.run([str(Path(sys.executable).with_name("saved_model_cli")), "show", "--dir", str(saved),
                            "--all"], capture_output=True, text=True, timeout=120)
    assert "signature_def['serving_default']" in shown.stdout
    assert "signature_def['translate_ids']" in shown.stdout


def test_an_ensemble_exports_as_one_saved_model(trained_model, dates_dir, tmp_path):
    saved = tmp_path / "ensemble"
    export_here([trained_model, trained_model], saved)
    lines = source_lines(dates_dir, 12)
    assert_same(load_and_run(saved, lines), translated_here([trained_model, trained_model], lines))


def tiny_model(tmp_path: Path, corpus: Path, **vocab) -> Path:
    """A model trained for one epoch of 13 steps: a poor translator, but a deterministic one."""
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess
    from nmtkit.training import train

    recipe = load_recipe(write_recipe(tmp_path / "recipe.yaml", corpus, tmp_path, vocab=vocab))
    preprocess(recipe)
    train(recipe)
    return Path(recipe.train.model_dir)


def test_character_and_whitespace_levels_tokenize_in_the_graph(few_dates_dir, tmp_path):
    model = tiny_model(tmp_path, few_dates_dir, src_type="char", tgt_type="whitespace", lowercase=True, size=0)
    saved = tmp_path / "saved"
    assert export_here([model], saved) == ["serving_default", "translate_ids"]
    # Upper case and a compatibility character (NFKC: "ﬁ" is "fi") exercise the normalization.
    lines = source_lines(few_dates_dir, 10) + ["THE 1ST OF ﬁVE", "a\u2581b  c"]
    assert_same(load_and_run(saved, lines), translated_here([model], lines))


def test_word_level_exports_the_ids_signature_only(few_dates_dir, tmp_path):
    model = tiny_model(tmp_path, few_dates_dir, type="word")
    saved = tmp_path / "saved"
    done = invoke("export", model, saved, *SETTINGS)
    assert done.exit_code == 0, done.output
    assert "note: Moses word level cannot be tokenized in a graph" in done.stderr

    from nmtkit.data.vocab import Vocab
    from nmtkit.translate import Translator

    translator = Translator([model], OVERRIDES, keep_compiled=True)
    lines = source_lines(few_dates_dir, 10)
    sources = [translator.src_vocab.encode(p) for p in translator.tokenizers.src.encode(lines)]
    exported = load_and_run(saved, sources, "translate_ids")
    expected = translator.translate(lines)
    tgt = Vocab.load(saved / "assets.extra" / "tgt.vocab.json")
    assert [tgt.decode(ids) for ids in exported["target_ids"]] == [
        t.candidates[0].pieces if t.candidates else [] for t in expected]


@pytest.mark.parametrize("args, code, message", [
    (["taken"], 66, "already exists"),
    (["missing", "out"], 66, "missing"),
    ([], 2, "give MODEL_DIR OUT_DIR"),
    (["out", "--replace-unk"], 2, "replace_unk is not exported"),
    (["out", "--precision", "half"], 2, "--precision"),
])
def test_export_errors_are_one_line(trained_model, tmp_path, args, code, message):
    (tmp_path / "taken").mkdir()
    model = [] if args[:1] == ["missing"] else [trained_model]
    paths = [tmp_path / a if a[0] != "-" and a != "half" else a for a in args]
    assert_clean_error(invoke("export", *model, *paths), code, message)
    assert not (tmp_path / "out").exists() and list((tmp_path / "taken").iterdir()) == []
