"""What the commands say and where: progress on stderr (plain lines when it is not a terminal),
reports that fit their destination, and `nmtkit info`."""

import json
import sys

from typer.testing import CliRunner

import nmtkit.progress
from nmtkit.cli import app
from nmtkit.progress import WorkProgress
from tests.conftest import write_recipe

runner = CliRunner()

HYPS = ["the cat sat on the mat .", "a dog runs in the park"]
REFS = ["the cat sat on a mat .", "a dog is running in the park ."]


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_plain_progress_lines_at_their_pace_with_an_eta(monkeypatch, capsys):
    monkeypatch.setattr(nmtkit.progress, "PLAIN_EVERY_S", 0.0)
    with WorkProgress() as progress:
        progress.stage("translate", "sentences", total=40)
        progress.advance(10)
        progress.stage("encode", "pairs")
        for _ in progress.counting(range(3)):
            pass
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("translate: 10 sentences, ") and ", ETA 0:" in lines[0]
    assert lines[1].startswith("translate: 10 sentences, ") and lines[1].endswith(" s")  # the stage's end
    assert lines[-1].startswith("encode: 3 pairs, ") and "ETA" not in lines[-1]

    monkeypatch.setattr(nmtkit.progress, "PLAIN_EVERY_S", 3600.0)
    with WorkProgress() as progress:
        progress.stage("translate", "sentences")
        progress.advance(5)
    assert capsys.readouterr().err == ""  # work done sooner than a line is due leaves the log alone

    with WorkProgress(quiet=True) as progress:
        progress.stage("translate", "sentences")
        progress.advance(5)
    assert capsys.readouterr().err == ""


def test_the_bar_on_a_terminal_leaves_stdout_to_the_results(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal
    with WorkProgress() as progress:
        assert progress.bar is not None
        progress.stage("translate", "sentences", total=2)
        print("a translation")
        progress.advance(2)
    captured = capsys.readouterr()
    assert captured.out == "a translation\n" and "translate" in captured.err


def test_preprocess_reports_each_stage_and_quiet_silences_it(few_dates_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(nmtkit.progress, "PLAIN_EVERY_S", 0.0)
    recipe = write_recipe(tmp_path / "recipe.yaml", few_dates_dir, tmp_path / "run")
    result = invoke("preprocess", recipe)
    assert result.exit_code == 0, result.output
    stages = list(dict.fromkeys(line.split(":")[0] for line in result.stderr.splitlines()[:-1]))
    assert stages == ["sentencepiece src+tgt", "tokenize train", "tokenize valid", "encode train", "encode valid"]
    assert "tokenize train: 400 pairs" in result.stderr and not result.stdout
    quiet = invoke("preprocess", recipe, "--quiet")
    assert quiet.exit_code == 0 and len(quiet.stderr.splitlines()) == 1  # the summary alone


def test_translate_progress_goes_to_stderr_with_an_eta_for_files(trained_model, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(nmtkit.progress, "PLAIN_EVERY_S", 0.0)
    text = "".join(f"{day} May 2001\n" for day in range(1, 29))
    result = invoke("translate", "-m", trained_model, input=text)
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 28
    assert result.stderr.startswith("translate: 28 sentences, ") and "sentences/s" in result.stderr
    quiet = invoke("translate", "-m", trained_model, "-q", input=text)
    assert quiet.stdout == result.stdout and quiet.stderr == ""

    from nmtkit.translate import Translator, translate_stream

    lines = text.splitlines(keepends=True)
    with WorkProgress() as progress:  # windows of 8 sentences; the input's size gives the ETA
        translate_stream(Translator([trained_model], {"batch_size": 1}), lines, sys.stdout, progress=progress,
                         input_bytes=len(text.encode()))
    progress_lines = capsys.readouterr().err.splitlines()
    assert len(progress_lines) >= 2 and "ETA" in progress_lines[0]


def test_score_is_plain_text_when_piped_and_a_table_when_asked(tmp_path):
    hyp, ref = write(tmp_path / "hyp", HYPS), write(tmp_path / "ref", REFS)
    plain = invoke("score", "--ref", ref, hyp)  # CliRunner's stdout is not a terminal
    assert plain.exit_code == 0, plain.output
    assert not set("│─╭┃━┏") & set(plain.stdout)
    assert all(line == line.rstrip() for line in plain.stdout.splitlines())
    bleu = next(line.split()[1] for line in plain.stdout.splitlines() if line.split()[:1] == ["BLEU"])
    assert bleu == f"{json.loads(invoke('score', '--ref', ref, '--json', hyp).stdout)['bleu']['score']:.2f}"
    table = invoke("score", "--ref", ref, "--format", "table", hyp)
    assert "━" in table.stdout or "│" in table.stdout
    assert json.loads(invoke("score", "--ref", ref, "-f", "json", hyp).stdout)["sentences"] == 2
    bad = invoke("score", "--ref", ref, "--format", "html", hyp)
    assert bad.exit_code == 2 and "--format must be one of table, plain, json" in bad.stderr


def test_info_shows_what_a_model_directory_holds(trained_model):
    result = invoke("info", trained_model)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for section in ("data", "architecture", "parameters", "training", "checkpoints kept", "files"):
        assert f"\n{section}\n" in text
    manifest = json.loads((trained_model / "manifest.json").read_text())
    assert f"  {'total':<20} {manifest['parameters']:>11,}" in text
    assert "model.weights.h5" in text and "bidirectional lstm" in text
    assert all(len(line) <= 80 for line in text.splitlines()[1:])  # the first names the directory

    described = json.loads(invoke("info", trained_model, "--json").stdout)
    assert described["parameters"]["total"] == manifest["parameters"]
    assert sum(v for k, v in described["parameters"].items() if k != "total") == manifest["parameters"]
    assert described["training"]["best"]["step"] == manifest["training"]["best"]["step"]
    assert described["files"]["model.weights.h5"] == (trained_model / "model.weights.h5").stat().st_size
    assert described["data"]["vocabularies"]["src"] == manifest["data"]["vocab"]["src"]

    missing = invoke("info", trained_model.parent / "nothing")
    assert missing.exit_code == 66 and missing.stderr.startswith("nmtkit: error: ")
