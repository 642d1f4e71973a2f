"""The commands end to end through Typer's CliRunner, and every bad input they must survive."""

import json

import pytest
from typer.testing import CliRunner

from nmtkit.cli import app
from tests.conftest import write_recipe

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def assert_clean_error(result, code, *fragments):
    """One line on stderr, the right exit code, no traceback."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nmtkit: error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_and_version():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("preprocess", "train", "translate", "score", "data"):
        assert command in result.stdout
    assert invoke("--version").stdout.strip() == "nmtkit 0.1.0"


def test_pipeline_runs_end_to_end(few_dates_dir, tmp_path):
    recipe = write_recipe(tmp_path / "recipe.yaml", few_dates_dir, tmp_path / "run")
    assert invoke("preprocess", recipe).exit_code == 0
    manifest = json.loads((tmp_path / "run/data/manifest.json").read_text())
    assert manifest["splits"]["train"]["pairs"] == 400
    result = invoke("train", recipe, "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    model = tmp_path / "run/model"
    assert {p.name for p in model.iterdir()} >= {
        "recipe.yaml", "tokenizers.json", "subwords.model", "src.vocab.json", "tgt.vocab.json",
        "model.weights.h5", "manifest.json", "metrics.jsonl"}
    assert [p.name for p in tmp_path.joinpath("run").iterdir() if p.name.startswith(".")] == []

    result = invoke("translate", "--model", model, "--beam", 2, input="3 March 2021\n\nMay 5, 1999\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""  # 3 lines, the empty one kept
    hyp = tmp_path / "hyp.txt"
    hyp.write_text(result.stdout)
    ref = tmp_path / "ref.txt"
    ref.write_text("2021-03-03\n\n1999-05-05\n")
    scored = invoke("score", "--json", "--ref", ref, hyp)
    assert scored.exit_code == 0, scored.output
    assert set(json.loads(scored.stdout)) >= {"bleu", "chrf", "meteor"}
    table = invoke("score", "--ref", ref, input=result.stdout)  # hypotheses from stdin
    assert table.exit_code == 0 and "BLEU" in table.stdout and "METEOR" in table.stdout


def test_recipe_errors(tiny_recipe, tmp_path):
    assert_clean_error(invoke("preprocess", tmp_path / "none.yaml"), 78, "none.yaml not found")
    assert_clean_error(invoke("preprocess", tiny_recipe, "--set", "model.depth=3"), 78,
                       "unknown key model.depth")
    assert_clean_error(invoke("train", tiny_recipe, "--set", "train.batch_size=-1"), 78,
                       "train.batch_size must be >= 1")


def test_mismatched_corpus_leaves_nothing(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "train.txt").write_text("a\nb\nc\n")
    (root / "train.iso").write_text("a\nb\n")
    (root / "val.txt").write_text("a\n")
    (root / "val.iso").write_text("a\n")
    recipe = write_recipe(tmp_path / "r.yaml", root, tmp_path / "run")
    assert_clean_error(invoke("preprocess", recipe), 65, "train.txt has 3 lines", "train.iso has 2")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_invalid_utf8_corpus(tmp_path, dates_dir):
    root = tmp_path / "corpus"
    root.mkdir()
    for name in ("train.iso", "val.txt", "val.iso"):
        (root / name).write_bytes((dates_dir / name).read_bytes())
    (root / "train.txt").write_bytes((dates_dir / "train.txt").read_bytes().replace(b"\n", b"\n\xff", 1))
    recipe = write_recipe(tmp_path / "r.yaml", root, tmp_path / "run")
    assert_clean_error(invoke("preprocess", recipe), 65, "train.txt line 2: invalid UTF-8")


def test_train_without_prepared_data(tiny_recipe):
    assert_clean_error(invoke("train", tiny_recipe), 66, "run `nmtkit preprocess`")


def test_train_refuses_to_clobber_a_model_dir(tiny_recipe, tmp_path):
    assert invoke("preprocess", tiny_recipe).exit_code == 0
    model = tmp_path / "run/model"
    model.mkdir()
    (model / "keep.txt").write_text("mine")
    assert_clean_error(invoke("train", tiny_recipe), 66, "already exists", "--overwrite")
    assert [p.name for p in model.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("make", [
    lambda d: d / "missing",
    lambda d: d,  # an existing folder that is not a model
])
def test_translate_rejects_what_is_not_a_model(tmp_path, make):
    assert_clean_error(invoke("translate", "--model", make(tmp_path), input="x\n"), 66,
                       "not")


def test_translate_rejects_invalid_utf8_input(trained_model):
    result = runner.invoke(app, ["translate", "--model", str(trained_model)], input=b"ok\n\xff\n")
    assert_clean_error(result, 65, "<stdin> line 2: invalid UTF-8")


def test_score_rejects_length_mismatch(tmp_path):
    (tmp_path / "h").write_text("a\n")
    (tmp_path / "r").write_text("a\nb\n")
    assert_clean_error(invoke("score", "--ref", tmp_path / "r", tmp_path / "h"), 65,
                       "has 1 lines but reference")
    assert_clean_error(invoke("score", "--ref", tmp_path / "nothing", tmp_path / "h"), 65,
                       "not found")


def test_data_dates_and_local_multi30k(tmp_path):
    assert invoke("data", "dates", tmp_path / "d").exit_code == 0
    assert len((tmp_path / "d/train.txt").read_text().splitlines()) == 20000
    assert_clean_error(invoke("data", "dates", tmp_path / "d"), 66, "already exists")
    assert_clean_error(invoke("data", "multi30k", tmp_path / "m", "--from", tmp_path / "d"), 65,
                       "train.de.gz not found")
    assert not (tmp_path / "m").exists()


def test_dry_run_prints_parameters_per_component(tiny_recipe, tmp_path):
    assert invoke("preprocess", tiny_recipe).exit_code == 0
    result = invoke("train", tiny_recipe, "--dry-run", "--set", "model.attention=bahdanau",
                    "--set", "model.input_feeding=false")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["component", "parameters"]
    counts = {line.rsplit(None, 1)[0]: int(line.rsplit(None, 1)[1].replace(",", "")) for line in rows}
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["attention"] > 0 and counts["bridge"] == 0
    assert not (tmp_path / "run/model").exists()
