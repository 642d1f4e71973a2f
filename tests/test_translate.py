"""`nmtkit translate` and `nmtkit average` on a tiny trained model: output formats, ensembles,
<unk> replacement, attention plots, sampling, precision and streaming."""

import io
import re
import select
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nmtkit.progress
import nmtkit.translate
from nmtkit.artifacts import WEIGHTS, load_model_dir
from nmtkit.checksums import read_checksums, write_checksums
from nmtkit.data.textio import read_lines
from nmtkit.data.vocab import UNK
from nmtkit.translate import Translator, translate_stream
from tests.test_cli import assert_clean_error, invoke
from tests.test_training_engine import ROOT


@pytest.fixture(scope="module")
def sources(dates_dir):
    return read_lines(dates_dir / "test.txt")[:30]


def test_n_best_and_scores_output(trained_model, sources):
    text = "\n".join(sources[:3]) + "\n\n"
    best = invoke("translate", "--model", trained_model, input=text).stdout.splitlines()
    n_best = invoke("translate", "--model", trained_model, "--beam", 4, "--n-best", 3, input=text).stdout
    lines = [re.fullmatch(r"(\d+) \|\|\| (.*) \|\|\| (-?\d+\.\d+)", line) for line in n_best.splitlines()]
    assert all(lines) and len(lines) == 3 * 3 + 1  # a blank input gets one empty entry
    by_input = {}
    for match in lines:
        by_input.setdefault(int(match[1]), []).append((match[2], float(match[3])))
    assert sorted(by_input) == [0, 1, 2, 3] and by_input[3] == [("", 0.0)]
    for index in range(3):
        found = by_input[index]
        assert len(found) == 3  # distinct as piece sequences; two may detokenize alike
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    candidates = Translator([trained_model], {"beam_size": 4}, n_best=3).translate(sources[:3])
    assert all(len({tuple(c.pieces) for c in t.candidates}) == 3 for t in candidates)
    scored = invoke("translate", "--model", trained_model, "--scores", input=text).stdout.splitlines()
    assert [line.split("\t")[1] for line in scored] == best
    assert all(float(line.split("\t")[0]) <= 0 for line in scored)


def test_a_sentence_gets_the_same_beam_in_a_batch_as_alone(trained_model, sources):
    """The beam's hypotheses share their sentence's encoder outputs (nmtkit.search): each must
    attend to its own sentence's, and sentences leaving the batch must take theirs along."""
    translator = Translator([trained_model], {"beam_size": 4, "batch_size": 16}, n_best=2)
    batched = [t.candidates for t in translator.translate(sources)]
    alone = [translator.translate([line])[0].candidates for line in sources]
    assert [[c.text for c in found] for found in batched] == [[c.text for c in found] for found in alone]
    np.testing.assert_allclose([[c.score for c in found] for found in batched],
                               [[c.score for c in found] for found in alone], atol=1e-3)


def test_an_ensemble_of_one_model_twice_equals_the_model(trained_model, sources):
    single = Translator([trained_model]).translate(sources)
    double = Translator([trained_model, trained_model]).translate(sources)
    assert [t.text for t in double] == [t.text for t in single]
    np.testing.assert_allclose([t.candidates[0].score for t in double],
                               [t.candidates[0].score for t in single], atol=1e-3)


def test_ensembles_need_shared_vocabularies(trained_model, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained_model, other)
    vocab = (other / "tgt.vocab.json").read_text(encoding="utf-8")
    (other / "tgt.vocab.json").write_text(vocab.replace('"-"', '"~"'), encoding="utf-8")
    write_checksums(other, read_checksums(other))  # edited on purpose
    assert_clean_error(invoke("translate", "-m", trained_model, "-m", other, input="1 May 2000\n"),
                       2, "share the tokenizer and vocabularies")


def test_unknown_outputs_are_replaced_by_the_most_attended_source_piece(trained_model, sources, tmp_path):
    says_unk = tmp_path / "says-unk"  # a copy of the model that says <unk> first
    shutil.copytree(trained_model, says_unk)
    model = load_model_dir(says_unk).model
    bias = model.decoder.output_bias
    bias.assign(bias.numpy() + 50.0 * np.eye(bias.shape[0])[UNK])
    model.save_weights(says_unk / WEIGHTS)
    write_checksums(says_unk, read_checksums(says_unk))  # edited on purpose
    translator = Translator([says_unk], {"replace_unk": True, "beam_size": 1})
    for translation in translator.translate(sources[:5]):
        best = translation.candidates[0]
        assert best.pieces and set(best.pieces) <= set(translation.source)
        assert [translation.source[int(np.argmax(row))] for row in best.attention[:-1]] == best.pieces


def test_attention_plots_are_written(trained_model, sources, tmp_path):
    plots = tmp_path / "plots"
    result = invoke("translate", "-m", trained_model, "--attention-plots", plots, "--plot-count", 2,
                    input="\n".join(sources[:4]) + "\n")
    assert result.exit_code == 0
    assert sorted(p.name for p in plots.iterdir()) == ["00001.png", "00002.png"]
    assert (plots / "00001.png").read_bytes()[:4] == b"\x89PNG"


def test_sampling_is_repeatable_per_seed(trained_model, sources):
    text = "\n".join(sources) + "\n"

    def sample(seed):
        return invoke("translate", "-m", trained_model, "--sample", "--temperature", 3.0,
                      "--seed", seed, input=text).stdout

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)
    assert_clean_error(invoke("translate", "-m", trained_model, "--sample", "--beam", 3, input=text),
                       2, "--sample")


def test_searches_in_flight_change_nothing_but_the_speed(trained_model, sources, monkeypatch):
    """Batches searched two at a time come back in order, each as it would alone."""
    translator = Translator([trained_model], {"beam_size": 3, "batch_size": 4}, n_best=2)
    together = [[(c.text, c.score) for c in t.candidates] for t in translator.translate(sources)]
    monkeypatch.setattr(nmtkit.translate, "SEARCHES_IN_FLIGHT", 1)
    assert [[(c.text, c.score) for c in t.candidates] for t in translator.translate(sources)] == together


def test_bfloat16_translation_agrees_with_float32(trained_model, sources):
    full = [t.text for t in Translator([trained_model]).translate(sources)]
    half = [t.text for t in Translator([trained_model], {"precision": "bfloat16"}).translate(sources)]
    assert np.mean([a == b for a, b in zip(full, half)]) >= 0.8


def test_output_flows_before_the_input_ends(trained_model, sources):
    translator = Translator([trained_model], {"batch_size": 2})  # windows of 32 lines
    read = []

    def slow_input():
        for i in range(200):
            read.append(i)
            yield sources[i % len(sources)]

    class Sink(io.StringIO):
        first_write_after = None

        def write(self, text):
            if self.first_write_after is None:
                self.first_write_after = len(read)
            return super().write(text)

    sink = Sink()
    assert translate_stream(translator, slow_input(), sink) == 200
    assert sink.first_write_after <= 33
    assert len(sink.getvalue().splitlines()) == 200


def test_a_line_fed_through_an_open_pipe_comes_back_before_the_next_is_written(trained_model, sources):
    # A co-process: each line is answered while stdin stays open, not after a window of 2,048.
    process = subprocess.Popen([sys.executable, "-m", "nmtkit.cli", "translate", "-m", str(trained_model)],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    expected = [t.text for t in Translator([trained_model]).translate(sources[:3])]
    for line, translation in zip(sources[:3], expected):
        process.stdin.write(line + "\n")
        process.stdin.flush()
        assert select.select([process.stdout], [], [], 120)[0], "no answer while stdin stays open"
        assert process.stdout.readline() == translation + "\n"
    process.stdin.close()
    assert process.wait(timeout=120) == 0 and process.stdout.read() == ""


def test_translate_ends_its_process_without_python_s_teardown_once_its_output_is_flushed(trained_model, sources):
    # Python's teardown of TensorFlow took 0.7-0.9 s of every `translate` call; what the
    # command wrote must all be there all the same, and a failure still exits the usual way.
    script = ("import atexit, sys; atexit.register(lambda: print('teardown', file=sys.stderr)); "
              "sys.argv = ['nmtkit', 'translate', '-q'] + sys.argv[1:]; from nmtkit.cli import main; main()")
    lines = "\n".join(sources[:5]) + "\n"
    done = subprocess.run([sys.executable, "-c", script, "-m", str(trained_model)], cwd=ROOT, input=lines,
                          capture_output=True, text=True, timeout=300)
    expected = [t.text for t in Translator([trained_model]).translate(sources[:5])]
    assert done.returncode == 0 and done.stdout.splitlines() == expected
    assert "teardown" not in done.stderr
    failed = subprocess.run([sys.executable, "-c", script, "-m", str(trained_model), "--beam", "0"], cwd=ROOT,
                            input=lines, capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0 and "teardown" in failed.stderr


def test_search_option_errors(trained_model):
    for args, message in ((("--n-best", 3, "--beam", 2), "--n-best"),
                          (("--min-length", 9, "--max-length", 4), "--min-length"),
                          (("--precision", "fp8"), "--precision")):
        assert_clean_error(invoke("translate", "-m", trained_model, *args, input="1 May 2000\n"), 2, message)


def test_average_of_checkpoints(tiny_recipe, tmp_path, monkeypatch):
    from nmtkit.config import load_recipe
    from nmtkit.preprocess import preprocess
    from nmtkit.training import train

    # One epoch of 125 steps, checkpointed at each validation: steps 40, 80, 120 and 125.
    recipe = load_recipe(tiny_recipe, ["train.valid_every=40", "train.keep_checkpoints=2"])
    preprocess(recipe)
    train(recipe)
    model_dir = tmp_path / "run" / "model"
    kept = sorted(p.name for p in (model_dir / "checkpoints").iterdir())
    assert len(kept) == 2
    averaged = tmp_path / "averaged"
    monkeypatch.setattr(nmtkit.progress, "PLAIN_EVERY_S", 0.0)  # a line per checkpoint
    result = invoke("average", model_dir, "--output", averaged, "--last", 2)
    assert result.exit_code == 0, result.output
    assert "average: 2 checkpoints" in result.stderr  # progress, plain when stderr is not a terminal

    import h5py  # what Keras writes .weights.h5 with

    def arrays(path):
        with h5py.File(path) as f:
            found = []
            f.visititems(lambda name, obj: found.append(np.array(obj)) if hasattr(obj, "shape") else None)
            return found

    first, second = (arrays(model_dir / "checkpoints" / name / "model.weights.h5") for name in kept)
    for mean, a, b in zip(arrays(averaged / "model.weights.h5"), first, second):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-5, atol=1e-6)
    assert invoke("translate", "-m", averaged, input="3 May 2001\n").exit_code == 0
    assert_clean_error(invoke("average", model_dir, "--output", tmp_path / "x", "--last", 3), 2, "only 2")
    assert_clean_error(invoke("average", averaged, "--output", tmp_path / "y"), 66, "no training checkpoints")
