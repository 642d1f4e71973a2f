import pytest

from nmtkit.config import Recipe, dump_recipe, load_recipe, recipe_from_dict
from nmtkit.errors import RecipeError


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_missing_keys(tmp_path):
    recipe = load_recipe(write(tmp_path, "train:\n  epochs: 3\n"))
    assert recipe.train.epochs == 3
    assert recipe.model.decoder_units == 512
    assert recipe.vocab.type == "bpe"


@pytest.mark.parametrize("text, key", [
    ("model:\n  layers: 2\n", "model.layers"),
    ("modle:\n  dropout: 0.1\n", "modle"),
])
def test_unknown_keys_are_named(tmp_path, text, key):
    with pytest.raises(RecipeError, match=f"unknown key {key}"):
        load_recipe(write(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    ("train:\n  epochs: two\n", "train.epochs must be an integer"),
    ("train:\n  epochs: 0\n", "train.epochs must be >= 1"),
    ("model:\n  dropout: 1.5\n", "model.dropout must be <= 0.95"),
    ("vocab:\n  type: wordpiece\n", "vocab.type must be one of char, word, whitespace, bpe, unigram"),
    ("vocab:\n  type: word\n  tgt_type: bpe\n  size: 4\n", "vocab.size must be >= 8 for a bpe model"),
    ("model:\n  share_embeddings: true\n", "share_embeddings needs one vocabulary for both sides"),
    ("clean:\n  max_src_length: -1\n", "clean.max_src_length must be >= 0"),
    ("embeddings:\n  format: npy\n", "embeddings.format must be one of auto, word2vec"),
    ("train:\n  precision: half\n", "train.precision must be one of"),
    ("train:\n  epochs: true\n", "train.epochs must be an integer"),
    ("model: [1, 2]\n", "model must be a mapping"),
    ("model:\n  encoder_units: 100\n  decoder_units: 100\n", "bridge copy needs model.decoder_units"),
    ("model:\n  attention: luong_dot\n  bridge: dense\n  decoder_units: 100\n", "luong_dot compares"),
    ("model:\n  attention: none\n", "input_feeding feeds the attentional output back"),
    ("model:\n  tie_embeddings: true\n", "tie_embeddings needs model.decoder_units"),
    ("model:\n  encoder_cell: lstmx\n", "model.encoder_cell must be one of lstm, gru, rnn"),
    ("model:\n  attention: additive\n", "model.attention must be one of"),
])
def test_bad_values_name_the_key(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, text))


def test_overrides_are_typed_and_validated(tmp_path):
    path = write(tmp_path, "train:\n  epochs: 3\n")
    recipe = load_recipe(path, ["train.epochs=7", "model.dropout=0.5", "data.root=/x"])
    assert (recipe.train.epochs, recipe.model.dropout, recipe.data.root) == (7, 0.5, "/x")
    with pytest.raises(RecipeError, match="train.epochs must be an integer"):
        load_recipe(path, ["train.epochs=many"])
    with pytest.raises(RecipeError, match="expected section.key=value"):
        load_recipe(path, ["epochs=3"])
    with pytest.raises(RecipeError, match="unknown key train.epoch "):
        load_recipe(path, ["train.epoch=3"])


def test_yaml_errors_give_file_and_line(tmp_path):
    with pytest.raises(RecipeError, match=r"r\.yaml line 3: "):
        load_recipe(write(tmp_path, "train:\n  epochs: [3\n"))


def test_missing_file():
    with pytest.raises(RecipeError, match="recipe file nowhere.yaml not found"):
        load_recipe("nowhere.yaml")


def test_dump_round_trips():
    import yaml

    recipe = Recipe()
    assert recipe_from_dict(yaml.safe_load(dump_recipe(recipe))) == recipe


def test_shipped_recipes_load_and_the_commented_ones_show_every_key():
    import dataclasses
    from pathlib import Path

    from nmtkit.config import read_recipe
    from nmtkit.task_config import TaskRecipe, is_task_recipe, task_recipe_from_dict

    recipes = sorted(Path(__file__).parent.parent.glob("recipes/*.yaml"))
    assert len(recipes) >= 3
    for path in recipes:
        raw = read_recipe(path)
        kind = TaskRecipe if is_task_recipe(raw) else Recipe
        task_recipe_from_dict(raw, str(path)) if kind is TaskRecipe else load_recipe(path)
        if "Every key is shown" in path.read_text(encoding="utf-8"):
            for section in dataclasses.fields(kind):
                shown = set(raw.get(section.name) or {})
                missing = [f.name for f in dataclasses.fields(section.default_factory) if f.name not in shown]
                assert not missing, f"{path.name}: {section.name} lacks {missing}"
