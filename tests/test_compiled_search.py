"""The search graph kept in a model directory (nmtkit.compiled_search): loaded instead of
traced, the same translations, and never a graph of other weights or other settings."""

import shutil

import pytest
from tensorflow.core.protobuf import saved_model_pb2

import nmtkit.compiled_search
from nmtkit.artifacts import WEIGHTS
from nmtkit.compiled_search import COMPILED
from nmtkit.data.textio import read_lines
from nmtkit.translate import Sampling, Translator


@pytest.fixture
def model(trained_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained_model, copy, ignore=shutil.ignore_patterns(COMPILED))
    return copy


@pytest.fixture(scope="module")
def sources(dates_dir):
    return read_lines(dates_dir / "test.txt")[:20]


def kept_graphs(model):
    return sorted(p.relative_to(model / COMPILED) for p in (model / COMPILED).glob("*/*"))


def n_best(translator, sources):
    return [[(c.text, round(c.score, 4)) for c in t.candidates] for t in translator.translate(sources)]


def test_a_kept_graph_is_loaded_instead_of_traced_and_translates_the_same(model, sources):
    first = Translator([model], {"beam_size": 3}, n_best=2, keep_compiled=True)
    expected = n_best(first, sources)
    assert len(kept_graphs(model)) == 1
    second = Translator([model], {"beam_size": 3}, n_best=2, keep_compiled=True)
    assert n_best(second, sources) == expected
    assert "model" not in second._loaded[0].__dict__  # no Keras model was built
    # what a translate call loads is the search alone: no model call, no gradients to restore
    graph = saved_model_pb2.SavedModel.FromString((model / COMPILED / kept_graphs(model)[0] / "saved_model.pb").read_bytes())
    functions = [f.signature.name for f in graph.meta_graphs[0].graph_def.library.function]
    assert any("search" in name for name in functions)
    assert not [name for name in functions if "grad" in name or "serving" in name or "decoder" in name]


def test_other_settings_keep_their_own_graph(model, sources):
    greedy = n_best(Translator([model], {"beam_size": 1}, keep_compiled=True), sources)
    Translator([model], {"beam_size": 3}, keep_compiled=True)
    sampled = Translator([model], {"beam_size": 1}, sampling=Sampling(seed=3), keep_compiled=True)
    assert len(kept_graphs(model)) == 3
    assert n_best(Translator([model], {"beam_size": 1}, keep_compiled=True), sources) == greedy
    again = Translator([model], {"beam_size": 1}, sampling=Sampling(seed=3), keep_compiled=True)
    assert n_best(again, sources) == n_best(sampled, sources)


def test_new_weights_replace_the_graphs_of_the_old(model, sources):
    Translator([model], keep_compiled=True)
    old = kept_graphs(model)
    # New weights, published as training does: the file and its recorded checksum.
    from nmtkit.artifacts import ModelWriter, load_model_dir

    loaded = load_model_dir(model)
    weights = loaded.model.get_weights()
    loaded.model.set_weights([w * 0.5 for w in weights])
    writer = ModelWriter(model, reopen=True)
    writer._save_weights(loaded.model)
    fresh = Translator([model], keep_compiled=True)
    assert "model" in fresh._loaded[0].__dict__  # traced: the kept graph held the old weights
    assert kept_graphs(model) != old and len(kept_graphs(model)) == 1
    loaded = Translator([model], keep_compiled=True)
    assert "model" not in loaded._loaded[0].__dict__ and n_best(loaded, sources) == n_best(fresh, sources)


def test_damaged_weights_are_an_error_even_with_a_kept_graph(model):
    from nmtkit.errors import ModelDirError

    Translator([model], keep_compiled=True)
    data = bytearray((model / WEIGHTS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match="damaged"):
        Translator([model], keep_compiled=True)


def test_a_damaged_graph_is_traced_and_written_anew(model, sources):
    expected = n_best(Translator([model], keep_compiled=True), sources)
    (graph,) = kept_graphs(model)
    (model / COMPILED / graph / "saved_model.pb").write_bytes(b"not a graph")
    again = Translator([model], keep_compiled=True)
    assert "model" in again._loaded[0].__dict__
    assert n_best(again, sources) == expected
    assert n_best(Translator([model], keep_compiled=True), sources) == expected  # loads the new one


def test_a_directory_that_cannot_be_written_is_traced_every_time(model, sources, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(nmtkit.compiled_search.tf.saved_model, "save", refuse)
    translator = Translator([model], keep_compiled=True)
    assert translator.translate(sources[:2])[0].text
    assert kept_graphs(model) == []
