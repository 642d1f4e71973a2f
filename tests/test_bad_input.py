"""Bad input, everywhere (issue 18 point 5): every command, every input it reads.

Each bad input must give one `nmtkit: error: ...` line naming the file, line or key, the exit
code of its kind (recipe 78, data 65, model directory 66, usage 2; Typer's own usage errors 2),
and leave nothing half-done behind. Property tests (hypothesis) cover the recipe parser, `--set`,
the text readers and the line-preserving translate stream. The cases test_cli.py already has
(missing recipe, unknown --set key, unequal training files, invalid UTF-8 corpus and stdin,
training without prepared data, a model directory that is missing or foreign, score length
mismatch and missing reference) and test_translate.py's ensemble of vocabularies differing in
one token are not repeated here.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import shutil
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nmtkit.cli import app
from nmtkit.config import Recipe, parse_yaml, read_recipe, recipe_from_dict
from nmtkit.data.textio import iter_decoded, read_lines
from nmtkit.errors import DataError, RecipeError
from nmtkit.task_config import TaskRecipe, is_task_recipe, task_recipe_from_dict
from tests.conftest import TRAINED_EPOCHS, write_recipe
from tests.test_cli import assert_clean_error, invoke, runner

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def hidden(folder: Path) -> list[str]:
    """Staging folders and other dot-files a failed command might leave in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def assert_usage_error(result):
    """Typer's (click's) own usage errors: exit 2, no traceback (their one-line form is later work)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def one_line(exc: Exception) -> str:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    return message


# ----- recipes ------------------------------------------------------------------------------

def _replace(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


RECIPE_TEXT_CASES = [
    # (id, how the good recipe's text is changed (or the bytes written), code, fragments)
    ("yaml-syntax", _replace("epochs: 1", "epochs: [1"), 78, ["r.yaml line "]),
    ("tab-indent", _replace("  epochs: 1", "\tepochs: 1"), 78, ["r.yaml line "]),
    ("invalid-utf8", lambda text: text.encode() + b"\n# caf\xe9\n", 78, ["r.yaml line ", "invalid UTF-8"]),
    ("control-char", _replace("epochs: 1", "epochs: 1\x07"), 78, ["r.yaml line ", "#x0007"]),
    ("not-a-mapping", lambda text: "- data\n- model\n", 78, ["r.yaml", "a recipe is a mapping"]),
    ("section-not-mapping", lambda text: text + "clean: 3\n", 78, ["r.yaml", "clean must be a mapping"]),
    ("unknown-section", lambda text: text + "modle: {}\n", 78, ["r.yaml", "unknown key modle"]),
    ("unknown-key", _replace("epochs: 1", "epoch: 1"), 78, ["unknown key train.epoch "]),
    ("numeric-key", lambda text: text + "clean:\n  1: 2\n  strip: true\n", 78, ["unknown key clean.1 "]),
    ("wrong-type-int", _replace("epochs: 1", "epochs: two"), 78, ["train.epochs must be an integer"]),
    ("wrong-type-float", _replace("learning_rate: 0.005", "learning_rate: fast"), 78,
     ["train.learning_rate must be a number"]),
    ("wrong-type-bool", lambda text: text + "clean:\n  strip: maybe\n", 78, ["clean.strip must be true or false"]),
    ("wrong-type-string", lambda text: text.replace("src_lang: txt", "src_lang: 7"), 78,
     ["data.src_lang must be a non-empty string"]),
    ("out-of-range-high", lambda text: text.replace("dropout: 0.0", "dropout: 1.5"), 78,
     ["model.dropout must be <= 0.95"]),
    ("out-of-range-low", lambda text: text + "clean:\n  max_length_ratio: -1\n", 78,
     ["clean.max_length_ratio must be >= 0.0"]),
    ("not-a-number", _replace("learning_rate: 0.005", "learning_rate: .nan"), 78,
     ["train.learning_rate must be a finite number"]),
    ("infinite", _replace("learning_rate: 0.005", "learning_rate: .inf"), 78,
     ["train.learning_rate must be a finite number"]),
    ("impossible-date", _replace("epochs: 1", "epochs: 2021-13-45"), 78, ["r.yaml line ", "month must be in"]),
    ("bad-tag", _replace("epochs: 1", "epochs: !!int one"), 78, ["r.yaml line "]),
    ("nested-too-deeply", lambda text: text + "clean: " + "[" * 5000 + "\n", 78, ["r.yaml", "nested too deeply"]),
    ("huge-value", lambda text: text + "clean:\n  strip: " + "x" * 100_000 + "\n", 78,
     ["clean.strip must be true or false"]),
]


@pytest.mark.parametrize("command", ["preprocess", "train"])
@pytest.mark.parametrize("change, code, fragments", [c[1:] for c in RECIPE_TEXT_CASES],
                         ids=[c[0] for c in RECIPE_TEXT_CASES])
def test_bad_recipe_file(tmp_path, few_dates_dir, command, change, code, fragments):
    good = write_recipe(tmp_path / "r.yaml", few_dates_dir, tmp_path / "run").read_text(encoding="utf-8")
    bad = change(good)
    assert bad != good
    (tmp_path / "r.yaml").write_bytes(bad if isinstance(bad, bytes) else bad.encode("utf-8"))
    result = invoke(command, tmp_path / "r.yaml")
    assert_clean_error(result, code, *fragments)
    assert len(result.stderr) < 1000  # values are shown cut short
    assert not (tmp_path / "run").exists()


def test_recipe_that_is_a_directory(tmp_path):
    assert_clean_error(invoke("preprocess", tmp_path), 78, "cannot read recipe file", str(tmp_path))


@pytest.mark.parametrize("text, fragment", [
    ("task:\n  name: sort\n", "task.name must be one of copy"),
    ("task:\n  min_length: 5\n  max_length: 2\n", "task.min_length <= task.max_length"),
    ("task:\n  name: copy\ndata:\n  root: x\n", "unknown key data"),
    ("task: {}\nmodel:\n  units: 0\n", "model.units must be >= 1"),
])
def test_bad_task_recipe(tmp_path, text, fragment):
    (tmp_path / "r.yaml").write_text(text + f"train:\n  model_dir: {tmp_path / 'model'}\n", encoding="utf-8")
    assert_clean_error(invoke("train", tmp_path / "r.yaml"), 78, "r.yaml", fragment)
    assert not (tmp_path / "model").exists() and hidden(tmp_path) == []


SET_CASES = [
    ("train.epochs", ["--set 'train.epochs': expected section.key=value"]),
    ("=3", ["expected section.key=value"]),
    ("epochs=3", ["expected section.key=value"]),
    ("train.epochs.max=3", ["expected section.key=value"]),
    ("train.=3", ["expected section.key=value"]),
    ("train.epochs=two", ["train.epochs must be an integer, got 'two'"]),
    ("train.epochs=[3", ["train.epochs must be an integer, got '[3'"]),
    ("train.epochs=2021-13-45", ["train.epochs must be an integer, got '2021-13-45'"]),
    ("train.epochs=!!int x", ["train.epochs must be an integer"]),
    ("train.epochs=" + "[" * 5000, ["train.epochs must be an integer"]),
    ("nosuch.key=1", ["unknown key nosuch "]),
    ("data.root=", ["data.root must be a non-empty string"]),
    ("vocab.size=-5", ["vocab.size must be >= 0"]),
    ("model.dropout=.nan", ["model.dropout must be a finite number"]),
    ("train.learning_rate=1.0e+999", ["train.learning_rate must be a finite number"]),
    ("train.optimizer=adagrad", ["train.optimizer must be one of adam"]),
    ("train.clip_value=1", ["train.clip_norm and train.clip_value exclude each other"]),
]


@pytest.mark.parametrize("override, fragments", SET_CASES, ids=[c[0][:30] for c in SET_CASES])
def test_bad_set_override(tiny_recipe, tmp_path, override, fragments):
    result = invoke("train", tiny_recipe, "--set", override)
    assert_clean_error(result, 78, *fragments)
    assert len(result.stderr) < 1000
    assert not (tmp_path / "run").exists()


def test_set_fills_a_section_written_empty(tmp_path):
    """`train:` with nothing under it is an empty section, for --set as for the recipe itself."""
    (tmp_path / "r.yaml").write_text("train:\nmodel:\n", encoding="utf-8")
    raw = read_recipe(tmp_path / "r.yaml", ["train.epochs=3"])
    assert recipe_from_dict(raw).train.epochs == 3


# ----- corpora (preprocess) -----------------------------------------------------------------

def _line_broken(number: int, bad: bytes):
    """The file with `bad` put at the start of line `number`."""
    def change(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[number - 1] = bad + lines[number - 1]
        return b"\n".join(lines)
    return change


CORPUS_CASES = [
    # (id, {file: change of its bytes, None = delete}, code, fragments)
    ("missing-train-source", {"train.txt": None}, 65, ["train.txt (or", "train.txt.gz) not found"]),
    ("missing-valid-target", {"val.iso": None}, 65, ["val.iso (or", "not found"]),
    ("empty-train", {"train.txt": lambda d: b"", "train.iso": lambda d: b""}, 65,
     ["no usable training pairs", "train.txt"]),
    ("blank-train", {"train.txt": lambda d: b" \n\t\n", "train.iso": lambda d: b"\n \n"}, 65,
     ["no usable training pairs"]),
    ("empty-train-source", {"train.txt": lambda d: b""}, 65, ["train.txt has 0 lines", "train.iso has 400"]),
    ("empty-valid", {"val.txt": lambda d: b"", "val.iso": lambda d: b""}, 65,
     ["no valid pair is left", "val.txt"]),
    ("valid-line-counts", {"val.iso": lambda d: d.split(b"\n", 1)[1]}, 65, ["val.txt has 50 lines", "val.iso has 49"]),
    ("invalid-utf8-valid", {"val.iso": _line_broken(3, b"\xc3")}, 65, ["val.iso line 3: invalid UTF-8"]),
    ("binary-train", {"train.iso": lambda d: bytes(range(256)) * 8}, 65, ["train.iso line 1: NUL byte"]),
    ("corrupt-gzip", {"train.txt": None, "train.txt.gz": lambda d: gzip.compress(d)[:-40]}, 65,
     ["train.txt.gz: not a valid gzip file"]),
    ("gzip-not-utf8", {"train.txt": None, "train.txt.gz": lambda d: gzip.compress(_line_broken(2, b"\xff")(d))},
     65, ["train.txt.gz line 2: invalid UTF-8"]),
    ("missing-embeddings", {}, 65, ["embeddings file", "nowhere.vec not found"]),
]


@pytest.mark.parametrize("changes, code, fragments", [c[1:] for c in CORPUS_CASES], ids=[c[0] for c in CORPUS_CASES])
def test_bad_corpus_leaves_no_prepared_data(tmp_path, few_dates_dir, changes, code, fragments):
    root = tmp_path / "corpus"
    shutil.copytree(few_dates_dir, root)
    for name, change in changes.items():
        original = (few_dates_dir / name.removesuffix(".gz")).read_bytes()
        if change is None:
            (root / name).unlink()
        else:
            (root / name).write_bytes(change(original))
    extra = {"embeddings": {"src": str(tmp_path / "nowhere.vec")}} if not changes else {}
    recipe = write_recipe(tmp_path / "r.yaml", root, tmp_path / "run", **extra)
    assert_clean_error(invoke("preprocess", recipe), code, *fragments)
    assert not (tmp_path / "run" / "data").exists() and hidden(tmp_path / "run") == []


def test_missing_corpus_root(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", tmp_path / "nowhere", tmp_path / "run")
    assert_clean_error(invoke("preprocess", recipe), 65, str(tmp_path / "nowhere"), "not found")


# ----- prepared data (train) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def prepared(tmp_path_factory, few_dates_dir) -> Path:
    work = tmp_path_factory.mktemp("prepared")
    recipe = write_recipe(work / "r.yaml", few_dates_dir, work)
    assert invoke("preprocess", recipe).exit_code == 0
    return work / "data"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


PREPARED_CASES = [
    ("no-train-split", lambda d: (d / "train.src.ids.npy").unlink(), ["holds no train split"]),
    ("truncated-ids", lambda d: _truncate(d / "valid.tgt.ids.npy"), ["the valid split is not nmtkit prepared data"]),
    ("garbage-offsets", lambda d: (d / "train.src.offsets.npy").write_bytes(b"garbage"),
     ["the train split is not nmtkit prepared data"]),
    ("manifest-not-json", lambda d: (d / "manifest.json").write_text("{"), ["manifest.json: unreadable"]),
    ("no-manifest", lambda d: (d / "manifest.json").unlink(), ["no manifest.json"]),
    ("no-vocab", lambda d: (d / "src.vocab.json").unlink(), ["src.vocab.json not found"]),
]


@pytest.mark.parametrize("damage, fragments", [c[1:] for c in PREPARED_CASES], ids=[c[0] for c in PREPARED_CASES])
def test_train_on_damaged_prepared_data_writes_no_model(tmp_path, few_dates_dir, prepared, damage, fragments):
    run = tmp_path / "run"
    shutil.copytree(prepared, run / "data")
    damage(run / "data")
    recipe = write_recipe(tmp_path / "r.yaml", few_dates_dir, run)
    assert_clean_error(invoke("train", recipe), 66, *fragments)
    assert sorted(p.name for p in run.iterdir()) == ["data"]


@pytest.mark.parametrize("args, fragment", [
    (["--device", "tpu"], "--device must be auto, cpu or gpu"),
    (["--resume", "--overwrite"], "--resume continues a model directory"),
])
def test_train_option_conflicts(tmp_path, few_dates_dir, prepared, args, fragment):
    shutil.copytree(prepared, tmp_path / "run" / "data")
    recipe = write_recipe(tmp_path / "r.yaml", few_dates_dir, tmp_path / "run")
    assert_clean_error(invoke("train", recipe, *args), 2, fragment)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["data"]


# ----- model directories (translate, average, plot) -----------------------------------------

def _write(name: str, content: str | bytes):
    def damage(model: Path) -> None:
        path = model / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return damage


def _unlink(name: str):
    return lambda model: (model / name).unlink()


def _extra_target_token(model: Path) -> None:
    path = model / "tgt.vocab.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"</s>",', '"</s>",\n"extra",', 1), encoding="utf-8")


MODEL_CASES = [
    # (id, damage to a copy of the trained model, fragments: the file at fault)
    ("no-manifest", _unlink("manifest.json"), ["manifest.json"]),
    ("manifest-not-json", _write("manifest.json", "{\"steps\": "), ["manifest.json"]),
    ("no-weights", _unlink("model.weights.h5"), ["model.weights.h5"]),
    ("truncated-weights", lambda m: _truncate(m / "model.weights.h5"), ["model.weights.h5"]),
    ("weights-not-hdf5", _write("model.weights.h5", b"\x00not hdf5" * 100), ["model.weights.h5"]),
    ("no-tokenizers", _unlink("tokenizers.json"), ["tokenizers.json"]),
    ("tokenizers-not-json", _write("tokenizers.json", "[1, "), ["tokenizers.json"]),
    ("tokenizers-wrong-shape", _write("tokenizers.json", "{\"src\": {}, \"tgt\": {}}"), ["tokenizers.json"]),
    ("no-subword-model", _unlink("subwords.model"), ["subwords.model"]),
    ("subword-model-garbage", _write("subwords.model", b"\x08garbage" * 50), ["subwords.model"]),
    ("no-recipe", _unlink("recipe.yaml"), ["recipe.yaml"]),
    ("recipe-not-yaml", _write("recipe.yaml", "model: [\n"), ["recipe.yaml"]),
    ("no-source-vocab", _unlink("src.vocab.json"), ["src.vocab.json"]),
    ("target-vocab-not-json", _write("tgt.vocab.json", "[\"<pad>\""), ["tgt.vocab.json"]),
    ("target-vocab-without-specials", _write("tgt.vocab.json", "[\"a\", \"b\"]"), ["tgt.vocab.json"]),
    # the weights no longer fit: whichever file is blamed, it is in this directory
    ("target-vocab-one-larger", _extra_target_token, []),
    ("checksums-garbage", _write("checksums.sha256", "not a checksum\n"), ["checksums.sha256"]),
]


@pytest.fixture
def model_copy(tmp_path, trained_model) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(trained_model, copy)
    return copy


def _without_checksums(model: Path) -> Path:
    """The copy as a model directory written before nmtkit kept checksums: read unchecked."""
    (model / "checksums.sha256").unlink(missing_ok=True)
    return model


MODEL_PARAMS = [
    pytest.param(damage, fragments, checked, id=f"{name}-{'checksums' if checked else 'no-checksums'}")
    for name, damage, fragments in MODEL_CASES for checked in (True, False)
    if checked or "checksums.sha256" not in fragments
]


@pytest.mark.parametrize("damage, fragments, checked", MODEL_PARAMS)
def test_translate_with_a_damaged_model_directory(model_copy, damage, fragments, checked):
    if not checked:
        _without_checksums(model_copy)
    damage(model_copy)
    result = invoke("translate", "--model", model_copy, input="3 May 2001\n")
    assert_clean_error(result, 66, str(model_copy), *fragments)
    assert result.stdout == ""


def test_translate_with_a_file_as_model(tmp_path):
    (tmp_path / "m").write_text("not a model")
    assert_clean_error(invoke("translate", "-m", tmp_path / "m", input="x\n"), 66, str(tmp_path / "m"),
                       "is not a directory")


def test_translate_with_prepared_data_as_model(prepared):
    assert_clean_error(invoke("translate", "-m", prepared, input="x\n"), 66, str(prepared), "model.weights.h5")


def test_an_ensemble_member_that_is_missing(trained_model, tmp_path):
    assert_clean_error(invoke("translate", "-m", trained_model, "-m", tmp_path / "gone", input="x\n"), 66,
                       str(tmp_path / "gone"))


@pytest.fixture(scope="module")
def small_vocab_model(tmp_path_factory, few_dates_dir) -> Path:
    """A second model whose vocabularies differ in size from `trained_model`'s (1 epoch of 400 pairs)."""
    work = tmp_path_factory.mktemp("small-vocab")
    recipe = write_recipe(work / "r.yaml", few_dates_dir, work, vocab={"size": 60})
    assert invoke("preprocess", recipe).exit_code == 0
    result = invoke("train", recipe)
    assert result.exit_code == 0, result.output
    return work / "model"


def test_an_ensemble_of_models_with_different_vocabulary_sizes(trained_model, small_vocab_model):
    result = invoke("translate", "-m", trained_model, "-m", small_vocab_model, input="3 May 2001\n")
    assert_clean_error(result, 2, "share the tokenizer and vocabularies", str(small_vocab_model))
    assert result.stdout == ""


def test_translate_with_an_invalid_recipe_in_the_model(model_copy):
    _without_checksums(model_copy)  # (with them, the edit is reported as damage)
    text = (model_copy / "recipe.yaml").read_text(encoding="utf-8")
    (model_copy / "recipe.yaml").write_text(text.replace("dropout: 0.0", "dropout: 5.0"), encoding="utf-8")
    assert_clean_error(invoke("translate", "-m", model_copy, input="x\n"), 66, "recipe.yaml")


def test_translate_with_an_impossible_date_in_the_model_recipe(model_copy):
    _without_checksums(model_copy)
    text = (model_copy / "recipe.yaml").read_text(encoding="utf-8")
    (model_copy / "recipe.yaml").write_text(text.replace(f"epochs: {TRAINED_EPOCHS}", "epochs: 2021-13-45"), encoding="utf-8")
    assert_clean_error(invoke("translate", "-m", model_copy, input="x\n"), 66, "recipe.yaml")


@pytest.mark.parametrize("damage, args, code, fragments", [
    (None, ["--last", "9"], 2, ["--last 9", "keeps only 1 checkpoints"]),
    (None, ["--output", "SELF"], 2, ["needs its own directory"]),
    (lambda m: shutil.rmtree(m / "checkpoints"), [], 66, ["holds no training checkpoints"]),
    (lambda m: _truncate(next((m / "checkpoints").glob("step-*")) / "model.weights.h5"), ["--last", "1"], 66,
     ["checkpoints", "step-"]),
    (_unlink("manifest.json"), [], 66, ["manifest.json"]),
], ids=["too-many", "output-is-input", "no-checkpoints", "truncated-checkpoint", "no-manifest"])
def test_average_bad_input_writes_nothing(model_copy, tmp_path, damage, args, code, fragments):
    if damage:
        damage(model_copy)
    args = [str(model_copy) if a == "SELF" else a for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "averaged")]
    if "--last" not in args:
        args += ["--last", "1"]
    assert_clean_error(invoke("average", model_copy, *args), code, *fragments)
    assert not (tmp_path / "averaged").exists() and hidden(tmp_path) == []


@pytest.mark.parametrize("content, fragment", [
    (None, "no metrics.jsonl"),
    ("", "holds no validation yet"),
    ('{"step": 1,\n', "metrics.jsonl: unreadable"),
])
def test_plot_bad_metrics(model_copy, content, fragment):
    if content is None:
        (model_copy / "metrics.jsonl").unlink()
    else:
        (model_copy / "metrics.jsonl").write_text(content, encoding="utf-8")
    assert_clean_error(invoke("plot", model_copy), 66, str(model_copy), fragment)
    assert not (model_copy / "curves.png").exists() and hidden(model_copy) == []


# ----- algorithmic-task model directories ---------------------------------------------------

@pytest.fixture(scope="module")
def task_model(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("task")
    (work / "r.yaml").write_text(yaml.safe_dump({
        "task": {"name": "copy", "bits": 2, "max_length": 3},
        "model": {"type": "lstm", "units": 8},
        "train": {"model_dir": str(work / "model"), "sequences": 32, "batch_size": 16, "log_every": 16},
    }), encoding="utf-8")
    result = invoke("train", work / "r.yaml")
    assert result.exit_code == 0, result.output
    return work / "model"


def test_task_commands_on_bad_model_directories(task_model, tmp_path):
    assert_clean_error(invoke("task", "evaluate", tmp_path / "gone"), 66, str(tmp_path / "gone"), "recipe.yaml")
    assert_clean_error(invoke("task", "heads", tmp_path / "gone", "-o", tmp_path / "h.png"), 66, "recipe.yaml")
    broken = tmp_path / "broken"
    shutil.copytree(task_model, broken)
    _truncate(broken / "model.weights.h5")
    assert_clean_error(invoke("task", "evaluate", broken, "--lengths", "2"), 66, "model.weights.h5")
    assert_clean_error(invoke("task", "evaluate", task_model, "--lengths", "2,x"), 2, "--lengths", "'2,x'")
    assert_clean_error(invoke("task", "heads", task_model, "-o", tmp_path / "h.png"), 2, "has no NTM")
    assert not (tmp_path / "h.png").exists()


def test_task_evaluate_on_a_translation_model(trained_model):
    assert_clean_error(invoke("task", "evaluate", trained_model, "--lengths", "2"), 66, "task model")


def test_task_evaluate_length_zero(task_model):
    assert_clean_error(invoke("task", "evaluate", task_model, "--lengths", "0"), 2, "--lengths")


# ----- translate: stdin and options ---------------------------------------------------------

@pytest.mark.parametrize("data, fragment", [
    (b"3 May 2001\n\x00\x01\x02\x03\n", "<stdin> line 2: NUL byte"),
    (bytes(range(256)) * 4, "<stdin> line 1: NUL byte"),
    (b"ok\nok\n\xed\xa0\x80 surrogate\n", "<stdin> line 3: invalid UTF-8"),
    # mtime=0: the test's id holds the bytes, and pytest-xdist workers must collect equal ids
    (gzip.compress(b"3 May 2001\n", mtime=0), "<stdin> line 1: NUL byte"),
])
def test_translate_rejects_binary_stdin(trained_model, data, fragment):
    result = runner.invoke(app, ["translate", "--model", str(trained_model)], input=data)
    assert_clean_error(result, 65, fragment)
    assert result.stdout == ""  # the window holding the bad line is not translated at all


def test_translate_keeps_every_line(trained_model):
    """A 100,000-character line, blank and whitespace-only lines, CRLF, no final newline: one
    output line per input line, in order."""
    long_line = ("3 May 2001 " * 10_000)[:100_000]
    text = "May 5, 1999\r\n" + long_line + "\n\n \t \n1 June 2020"
    result = invoke("translate", "--model", trained_model, "--beam", 1, input=text)
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n")
    assert len(lines) == 6 and lines[2] == lines[3] == lines[5] == "", lines
    assert lines[0] and lines[1] and lines[4]
    assert invoke("translate", "--model", trained_model, input="").stdout == ""
    assert invoke("translate", "--model", trained_model, input="\n\n\n").stdout == "\n\n\n"


def test_a_line_the_tokenizer_drops_gives_an_empty_line(trained_model):
    result = invoke("translate", "--model", trained_model, input="\u200b\n\x01\n")
    assert result.exit_code == 0 and result.stdout == "\n\n", (result.output, result.exception)
    result = invoke("translate", "--model", trained_model, input="3 May 2001\n\ufeff\u200b\n")
    assert result.stdout.split("\n")[1:] == ["", ""], result.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--sample", "--temperature", "0"], "--temperature must be > 0"),
    (["--sample", "--temperature", "-1"], "--temperature must be > 0"),
    (["--sample", "--beam", "3"], "--sample draws one translation"),
    (["--beam", "2", "--n-best", "3"], "--n-best 3 needs a beam at least as wide"),
    (["--min-length", "20", "--max-length", "5"], "--min-length 20 is above --max-length 5"),
    (["--precision", "half"], "--precision must be auto, float32 or bfloat16"),
    (["--attention-plots", "FILE"], "--attention-plots"),
])
def test_translate_option_values(trained_model, tmp_path, args, fragment):
    (tmp_path / "file").write_text("x")
    args = [str(tmp_path / "file") if a == "FILE" else a for a in args]
    result = invoke("translate", "--model", trained_model, *args, input="3 May 2001\n")
    assert_clean_error(result, 2, fragment)
    assert result.stdout == ""


# ----- score inputs -------------------------------------------------------------------------

@pytest.fixture
def score_files(tmp_path) -> Path:
    files = {"ref": b"a b c\nd e f\n", "ref2": b"a b c\n", "hyp": b"a b c\nd e\n", "hyp1": b"a b\n",
             "empty": b"", "binary": b"\x00\x01" * 10, "latin1": b"a b c\ncaf\xe9\n",
             "src": b"1\n2\n3\n", "corrupt.gz": gzip.compress(b"a\nb\n")[:-9]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


@pytest.mark.parametrize("args, stdin, code, fragments", [
    (["--ref", "ref", "binary"], None, 65, ["binary line 1: NUL byte"]),
    (["--ref", "latin1", "hyp"], None, 65, ["latin1 line 2: invalid UTF-8"]),
    (["--ref", "ref", "corrupt.gz"], None, 65, ["corrupt.gz: not a valid gzip file"]),
    (["--ref", "ref"], b"\x00\x00\n", 65, ["<stdin> line 1: NUL byte"]),
    (["--ref", "ref"], b"ok\n\xff\n", 65, ["<stdin> line 2: invalid UTF-8"]),
    (["--ref", "ref"], b"", 65, ["<stdin> has 0 lines but reference"]),
    (["--ref", "empty", "hyp"], None, 65, ["reference", "empty is empty"]),
    (["--ref", "ref", "--ref", "ref2", "hyp"], None, 65, ["ref2 has 1 lines but reference", "ref has 2"]),
    (["--ref", "ref", "hyp", "hyp1"], None, 65, ["hyp1 has 1 lines but reference"]),
    (["--ref", "ref", "--src", "src", "hyp"], None, 65, ["src has 3 lines but reference"]),
    (["--ref", "ref", "."], None, 65, ["is a directory"]),
    (["--ref", "ref", "nothing"], None, 65, ["nothing not found"]),
    (["--ref", "ref", "--tokenize", "moses", "hyp"], None, 2, ["--tokenize must be one of 13a"]),
    (["--ref", "ref", "--smooth", "laplace", "hyp"], None, 2, ["--smooth must be one of"]),
    (["--ref", "ref", "--meteor-impl", "java", "hyp"], None, 2, ["--meteor-impl must be one of"]),
    (["--ref", "ref", "--meteor-lang", "xx", "hyp"], None, 2, ["--meteor-lang must be one of"]),
], ids=["binary-hyp", "latin1-ref", "corrupt-gzip-hyp", "binary-stdin", "invalid-utf8-stdin", "empty-stdin",
        "empty-ref", "refs-differ", "second-system-short", "src-differs", "hyp-is-dir", "hyp-missing",
        "tokenize", "smooth", "meteor-impl", "meteor-lang"])
def test_bad_score_inputs(score_files, args, stdin, code, fragments):
    args = [str(score_files / a) if (score_files / a).exists() or a == "nothing" else a for a in args]
    result = runner.invoke(app, ["score", *args], input=stdin)
    assert_clean_error(result, code, *fragments)
    assert result.stdout == ""


# ----- data ---------------------------------------------------------------------------------

def test_data_wordnet_from_a_folder_that_is_not_wordnet(tmp_path):
    (tmp_path / "dict").mkdir()
    result = invoke("data", "wordnet", "--from", tmp_path / "dict", "--dest", tmp_path / "nltk")
    assert_clean_error(result, 65, str(tmp_path / "dict"), "not a WordNet 3.0 dict folder", "data.noun")
    assert not (tmp_path / "nltk").exists()


# ----- Typer's own usage errors -------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["nosuch"],
    ["preprocess"],
    ["train", "r.yaml", "--bogus"],
    ["translate"],
    ["translate", "-m", "m", "--beam", "x"],
    ["translate", "-m", "m", "--beam", "0"],
    ["translate", "-m", "m", "--top-k", "-1"],
    ["translate", "-m", "m", "--max-length-ratio", "-0.5"],
    ["score", "hyp"],
    ["score", "--ref", "r", "--bootstrap-samples", "0"],
    ["average", "m"],
    ["average", "m", "-o", "out", "--last", "0"],
    ["plot"],
    ["data", "dates", "d", "--seed", "seven"],
    ["task", "evaluate", "m", "--sequences", "0"],
    ["task", "heads", "m"],
], ids=lambda args: " ".join(args))
def test_typer_usage_errors(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    assert_usage_error(invoke(*args))
    assert list(tmp_path.iterdir()) == []


# ----- property tests: the recipe parser ----------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scratch")


def _load(path: Path, overrides: list[str] = ()):
    """What `nmtkit train` does with a recipe file: a Recipe / TaskRecipe, or a RecipeError."""
    raw = read_recipe(path, overrides)
    return task_recipe_from_dict(raw, str(path)) if is_task_recipe(raw) else recipe_from_dict(raw, str(path))


YAML_PIECES = ["data", "model", "train", "task", "epochs", "dropout", ":", ": ", "- ", "[", "]", "{", "}", ",",
               "\n", "  ", "\t", "'", '"', "#", "?", "&a ", "*a", "!!int ", "!!binary ", "!!python/tuple ",
               ".nan", ".inf", "-1", "0", "3", "1e999", "2021-13-45", "true", "null", "~", "---", "...", "|",
               ">", "%YAML 1.1", "\x07", "\ufeff", "é", "\u2028", "\\x"]
YAMLISH = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join)


@PROPERTY
@given(text=st.one_of(st.text(max_size=200), YAMLISH, st.binary(max_size=100)))
def test_any_recipe_text_loads_or_is_a_one_line_recipe_error(scratch, text):
    path = scratch / "any.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        _load(path)
    except RecipeError as exc:
        assert str(path) in one_line(exc)


def _fields(cls) -> dict[str, dict[str, typing.Any]]:
    hints = typing.get_type_hints(cls)
    return {section.name: typing.get_type_hints(hints[section.name]) for section in dataclasses.fields(cls)}


SECTIONS = {**_fields(Recipe), **{f"task:{k}": v for k, v in _fields(TaskRecipe).items()}}
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2, 600), st.floats(),
                   st.text(max_size=12), st.dates(), st.binary(max_size=4))
ANY_VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
ANY_KEY = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))


def _value_for(hint) -> st.SearchStrategy:
    """Mostly the field's own kind of value (to reach range and cross-key checks), sometimes anything."""
    if typing.get_origin(hint) is typing.Literal:
        own = st.sampled_from(typing.get_args(hint))
    else:
        own = {bool: st.booleans(), int: st.integers(-3, 600), float: st.floats(-2, 2) | st.floats(),
               str: st.text(max_size=8)}.get(hint, ANY_VALUE)
    return st.one_of(own, own, ANY_VALUE)


def _section(kind: str, hints: dict) -> st.SearchStrategy:
    entries = st.lists(st.sampled_from(sorted(hints)).flatmap(lambda k: st.tuples(st.just(k), _value_for(hints[k])))
                       | st.tuples(ANY_KEY, ANY_VALUE), max_size=5)
    return entries.map(dict) | ANY_VALUE


RECIPE_DICTS = st.one_of(
    st.lists(st.sampled_from([k for k in SECTIONS if ":" not in k]).flatmap(
        lambda s: st.tuples(st.just(s), _section(s, SECTIONS[s]))) | st.tuples(ANY_KEY, ANY_VALUE), max_size=5),
    st.lists(st.sampled_from([k for k in SECTIONS if k.startswith("task:")]).flatmap(
        lambda s: st.tuples(st.just(s.split(":")[1]), _section(s, SECTIONS[s]))), min_size=1, max_size=3),
).map(dict)


@PROPERTY
@given(raw=RECIPE_DICTS)
def test_any_recipe_mapping_builds_or_is_a_one_line_recipe_error(raw):
    try:
        task_recipe_from_dict(raw, "r.yaml") if is_task_recipe(raw) else recipe_from_dict(raw, "r.yaml")
    except RecipeError as exc:
        assert one_line(exc).startswith("r.yaml")


# ----- property tests: --set ----------------------------------------------------------------

@pytest.fixture(scope="module")
def base_recipe(scratch, few_dates_dir) -> Path:
    return write_recipe(scratch / "base.yaml", few_dates_dir, scratch / "run")


@PROPERTY
@given(override=st.one_of(st.text(max_size=60), YAMLISH.map(lambda t: "train.epochs=" + t),
                          st.tuples(st.sampled_from(sorted(SECTIONS)), st.text(max_size=10), YAMLISH)
                          .map(lambda t: f"{t[0].split(':')[-1]}.{t[1]}={t[2]}")))
def test_any_set_string_is_an_override_or_a_one_line_recipe_error(base_recipe, override):
    try:
        _load(base_recipe, [override])
    except RecipeError as exc:
        one_line(exc)


def _expected(text: str):
    """The value `--set key=text` sets: the text read as YAML, the text itself where it is not YAML."""
    if not text.strip():
        return ""
    try:
        return parse_yaml(text)
    except (yaml.YAMLError, RecursionError):
        return text


@PROPERTY
@given(key=st.sampled_from([(s, k) for s, hints in SECTIONS.items() if ":" not in s for k in hints
                            if not dataclasses.is_dataclass(hints[k])]),
       value=st.one_of(st.integers(-5, 1000).map(str), st.floats().map(str), st.text(max_size=20), YAMLISH))
def test_a_set_override_takes_effect_or_names_the_problem(base_recipe, key, value):
    section, name = key
    try:
        recipe = _load(base_recipe, [f"{section}.{name}={value}"])
    except RecipeError as exc:
        message = one_line(exc)
        assert f"{section}.{name}" in message or "model." in message or "vocab." in message or "train." in message
        return
    expected = _expected(value)
    got = getattr(getattr(recipe, section), name)
    assert got == (float(expected) if isinstance(got, float) else expected)


# ----- property tests: text readers ---------------------------------------------------------

GZIP_BROKEN = st.tuples(st.binary(max_size=200), st.integers(0, 60)).map(lambda t: gzip.compress(t[0])[: t[1]])
GZIP_FLIPPED = st.tuples(st.binary(min_size=1, max_size=200), st.integers(0, 10 ** 6), st.integers(1, 255)).map(
    lambda t: _flip(gzip.compress(t[0]), t[1], t[2]))


def _flip(data: bytes, at: int, mask: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1:]


def _lines_of(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


@PROPERTY
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b), GZIP_BROKEN, GZIP_FLIPPED))
def test_any_bytes_read_as_lines_or_a_data_error_naming_file_and_line(scratch, data):
    plain = not data.startswith(b"\x1f\x8b")
    outcomes = []
    for name, content in (("c.txt", data), ("c.txt.gz", gzip.compress(data))) if plain else (("c.gz", data),):
        path = scratch / name
        path.write_bytes(content)
        try:
            lines = read_lines(path)
        except DataError as exc:
            message = one_line(exc)
            assert message.startswith(str(path)), message
            outcomes.append(message.removeprefix(str(path)))
            continue
        assert all(isinstance(line, str) and "\n" not in line for line in lines)
        if plain:
            assert len(lines) == _lines_of(data)
        outcomes.append(lines)
    if plain:  # gzip changes nothing about what is read
        assert outcomes[0] == outcomes[1]
        try:
            assert list(iter_decoded(io.BytesIO(data), "<stdin>")) == outcomes[0]
        except DataError as exc:
            assert "<stdin>" + outcomes[0] == one_line(exc)


# What a line can hold and come back unchanged: no line end, no NUL (binary), no surrogate.
LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), max_size=40)


@PROPERTY
@given(lines=st.lists(LINE_TEXT, max_size=12), crlf=st.booleans(), final_newline=st.booleans(),
       compressed=st.booleans())
def test_valid_utf8_lines_come_back_unchanged(scratch, lines, crlf, final_newline, compressed):
    assume(not (lines and lines[0].startswith("\ufeff")))  # a leading BOM is dropped on purpose
    end = "\r\n" if crlf else "\n"
    data = (end.join(lines) + (end if final_newline and lines else "")).encode("utf-8")
    expected = lines if final_newline or not lines or lines[-1] else lines[:-1]
    path = scratch / "round.txt"
    path.write_bytes(gzip.compress(data) if compressed else data)
    assert read_lines(path) == expected
    assert list(iter_decoded(io.BytesIO(data), "<stdin>")) == expected


# ----- property test: the line-preserving translate stream ----------------------------------

@pytest.fixture(scope="module")
def one_at_a_time(trained_model):
    """A translator searching one sentence per batch, so that a line's translation does not depend
    on its neighbours (a window is 16 lines: the examples below span several)."""
    from nmtkit.translate import Translator

    return Translator([trained_model], {"batch_size": 1, "beam_size": 2})


DATE_LINE = st.dates().map(lambda d: f"{d.day} {d.strftime('%B')} {d.year}")
STREAM_LINE = st.one_of(
    st.just(""),
    st.text(" \t\u00a0\u3000\x0b\x0c\x1c\u2028\u2029\x85", max_size=4),  # blank to str.strip
    DATE_LINE,
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=30),
    st.text("0123456789 ,.-/MayJunebr", min_size=200, max_size=600),  # long lines
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(STREAM_LINE, max_size=24))
def test_translate_stream_gives_one_line_per_line_in_order(one_at_a_time, lines):
    from nmtkit.translate import translate_stream

    alone = {line: one_at_a_time.translate([line.rstrip("\r")])[0].text for line in set(lines)}
    sink = io.StringIO()
    assert translate_stream(one_at_a_time, iter(lines), sink) == len(lines)
    out = sink.getvalue()
    assert out.count("\n") == len(lines) and (out.endswith("\n") or not lines)
    assert out.split("\n")[:-1] == [alone[line] for line in lines]
    assert all(alone[line] == "" for line in lines if not line.strip())
