"""The Neural Turing Machine: addressing against hand-computed values, the cell in a compiled
graph, the algorithmic tasks' data, and a short copy run that must learn."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from typer.testing import CliRunner

from nmtkit.cli import app
from nmtkit.data.algorithmic import AlgorithmicTask
from nmtkit.models import ntm
from nmtkit.models.ntm import NTMCell
from nmtkit.task_config import task_recipe_from_dict
from nmtkit.task_training import TaskTrainer, build, evaluate, load_task_model, train_task
from tests.conftest import write_recipe


def test_content_weights_are_a_softmax_of_scaled_cosines():
    memory = tf.constant([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    key, strength = tf.constant([[[2.0, 0.0]]]), tf.constant([[[3.0]]])
    expected = np.exp(3 * np.array([1.0, 0.0, 1 / math.sqrt(2)]))
    np.testing.assert_allclose(ntm.content_weights(memory, key, strength)[0, 0], expected / expected.sum(),
                               rtol=1e-5)


@pytest.mark.parametrize("shifts, expected", [
    ([0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]),   # +1: the focus moves one row on
    ([1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),   # -1: one row back
    ([0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]),   # 0: stays
])
def test_shift_moves_the_focus(shifts, expected):
    weights = tf.constant([[[0.0, 1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(ntm.shift(weights, tf.constant([[shifts]]))[0, 0], expected, atol=1e-7)


def test_shift_is_circular_and_spreads_by_the_shift_distribution():
    weights = tf.constant([[[1.0, 0.0, 0.0, 0.0]]])
    spread = ntm.shift(weights, tf.constant([[[0.25, 0.5, 0.25]]]))[0, 0]
    np.testing.assert_allclose(spread, [0.5, 0.25, 0.0, 0.25], atol=1e-7)  # row 0 - 1 wraps to row 3
    last = ntm.shift(tf.constant([[[0.0, 0.0, 0.0, 1.0]]]), tf.constant([[[0.0, 0.0, 1.0]]]))[0, 0]
    np.testing.assert_allclose(last, [1.0, 0.0, 0.0, 0.0], atol=1e-7)


def test_sharpening_raises_to_gamma_and_renormalises():
    sharp = ntm.sharpen(tf.constant([[[0.5, 0.25, 0.25]]]), tf.constant([[[2.0]]]))[0, 0]
    np.testing.assert_allclose(sharp, [2 / 3, 1 / 6, 1 / 6], rtol=1e-5)


def test_sharpening_a_flat_weighting_with_a_huge_gamma_stays_finite():
    flat = tf.fill((1, 1, 128), 1 / 128)
    sharp = ntm.sharpen(flat, tf.constant([[[300.0]]]))[0, 0]
    np.testing.assert_allclose(sharp, np.full(128, 1 / 128), rtol=1e-4)


def test_interpolation_gate_chooses_between_content_and_previous():
    content, previous = tf.constant([[[1.0, 0.0]]]), tf.constant([[[0.0, 1.0]]])
    np.testing.assert_allclose(ntm.interpolate(content, previous, tf.constant([[[0.0]]]))[0, 0], [0, 1])
    np.testing.assert_allclose(ntm.interpolate(content, previous, tf.constant([[[0.25]]]))[0, 0], [0.25, 0.75])


def test_write_erases_then_adds_and_read_is_the_weighted_sum():
    memory = tf.ones((1, 2, 2))
    written = ntm.write(memory, tf.constant([[[1.0, 0.0]]]), erase=tf.constant([[[1.0, 0.0]]]),
                        add=tf.constant([[[0.0, 2.0]]]))
    np.testing.assert_allclose(written[0], [[0.0, 3.0], [1.0, 1.0]])
    np.testing.assert_allclose(ntm.read(written, tf.constant([[[0.5, 0.5]]]))[0, 0], [0.5, 2.0])


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_cell_weightings_are_distributions_and_it_trains_in_a_compiled_graph(controller):
    keras.utils.set_random_seed(0)
    cell = NTMCell(16, controller, memory_size=12, memory_width=6, read_heads=2, write_heads=1)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    head = keras.layers.Dense(3)
    x = tf.random.uniform((4, 9, 5))
    y = tf.cast(tf.random.uniform((4, 9, 3)) > 0.5, tf.float32)
    outputs, *states = rnn(x)
    assert outputs.shape == (4, 9, 16 + 2 * 6)
    weightings = tf.reshape(states[-1], (4, 3, 12))
    np.testing.assert_allclose(tf.reduce_sum(weightings, -1), np.ones((4, 3)), rtol=1e-5)
    assert bool(tf.reduce_all(weightings >= 0))

    optimizer = keras.optimizers.Adam(0.01)
    variables = rnn.trainable_variables + head.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, head(rnn(x)[0])))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss, tf.linalg.global_norm(gradients)

    losses = []
    for _ in range(50):
        loss, norm = step()
        assert math.isfinite(float(norm))
        losses.append(float(loss))
    assert losses[-1] < 0.85 * losses[0]  # it fits the random batch


def test_a_new_cells_heads_keep_their_place():
    cell = NTMCell(8, memory_size=10, memory_width=4, read_heads=2, write_heads=1, shift_range=2,
                   keep_place=True)
    cell.build((None, 3))
    addressing = tf.reshape(cell.head_bias[: 3 * cell.addressing_size],
                            (1, 3, cell.addressing_size))  # what the heads get from a silent controller
    previous = tf.one_hot([[2, 5, 7]], 10)
    memory = tf.random.uniform((1, 10, 4))
    np.testing.assert_array_equal(tf.argmax(cell._address(memory, addressing, previous), -1), [[2, 5, 7]])
    assert float(tf.reduce_min(tf.reduce_max(cell._address(memory, addressing, previous), -1))) > 0.8


def test_copy_task_layout():
    batch = AlgorithmicTask("copy", bits=4).batch(np.random.default_rng(0), 3, 5)
    assert batch.inputs.shape == (3, 11, 5) and batch.targets.shape == (3, 11, 4)
    np.testing.assert_array_equal(batch.targets[:, 6:], batch.inputs[:, :5, :4])
    np.testing.assert_array_equal(batch.inputs[:, 5, 4], np.ones(3))  # the delimiter
    assert batch.mask.sum() == 3 * 5 and batch.inputs[:, 6:].sum() == 0


def test_repeat_copy_layout():
    task = AlgorithmicTask("repeat_copy", bits=3, min_repeats=2, max_repeats=4)
    batch = task.batch(np.random.default_rng(1), 2, 4)
    repeats = round(batch.inputs[0, 4, 4] * 4)
    assert 2 <= repeats <= 4 and batch.inputs.shape[1] == 4 + 1 + 4 * repeats + 1
    np.testing.assert_array_equal(batch.targets[:, 5: 5 + 4 * repeats, :3],
                                  np.tile(batch.inputs[:, :4, :3], (1, repeats, 1)))
    np.testing.assert_array_equal(batch.targets[:, -1, 3], np.ones(2))  # the end marker
    assert batch.mask.sum() == 2 * (4 * repeats + 1)


def test_repeat_copy_takes_a_repeat_count_beyond_its_training_range():
    task = AlgorithmicTask("repeat_copy", bits=3, min_repeats=1, max_repeats=4)
    batch = task.batch(np.random.default_rng(1), 2, 3, repeats=6)
    assert batch.inputs.shape[1] == 3 + 1 + 3 * 6 + 1
    np.testing.assert_allclose(batch.inputs[:, 3, 4], [1.5, 1.5])  # the count, divided by max_repeats
    np.testing.assert_array_equal(batch.targets[:, 4: 4 + 18, :3], np.tile(batch.inputs[:, :3, :3], (1, 6, 1)))
    with pytest.raises(ValueError, match="only repeat_copy"):
        AlgorithmicTask("copy").batch(np.random.default_rng(1), 2, 3, repeats=2)


def test_associative_recall_answers_the_item_after_the_query():
    task = AlgorithmicTask("associative_recall", bits=6, item_length=3)
    batch = task.batch(np.random.default_rng(2), 8, 4)
    for x, y, m in zip(batch.inputs, batch.targets, batch.mask):
        items = [x[i * 4 + 1: i * 4 + 4, :6] for i in range(4)]
        query = x[4 * 4 + 1: 4 * 4 + 4, :6]
        (index,) = [i for i, item in enumerate(items[:-1]) if (item == query).all()][:1]
        np.testing.assert_array_equal(y[m == 1], items[index + 1])


def test_a_short_copy_run_learns(tmp_path):
    recipe = task_recipe_from_dict({
        "task": {"name": "copy", "bits": 4, "max_length": 5},
        "model": {"type": "ntm", "units": 32, "memory_size": 16, "memory_width": 8},
        "train": {"model_dir": str(tmp_path / "copy"), "sequences": 16_000, "batch_size": 16,
                  "learning_rate": 0.02, "log_every": 16_000}})
    manifest = train_task(recipe)
    _, model = load_task_model(recipe.train.model_dir)
    rows = evaluate(recipe, model, [3, 5], sequences=100)
    assert manifest["sequences"] == 16_000
    # out of 12 and 20 judged bits: an untrained model gets about half wrong
    assert rows[0]["bit_errors"] < 0.3 and rows[1]["bit_errors"] < 1.0, rows


def test_a_cosine_schedule_ends_the_run_at_a_learning_rate_of_zero(tmp_path):
    recipe = task_recipe_from_dict({
        "task": {"name": "copy", "bits": 3, "max_length": 3},
        "model": {"type": "ntm", "units": 8, "memory_size": 8, "memory_width": 4},
        "train": {"sequences": 48, "batch_size": 16, "learning_rate": 0.01, "lr_schedule": "cosine"}})
    trainer = TaskTrainer(build(recipe), recipe)
    batch = AlgorithmicTask("copy", bits=3).batch(np.random.default_rng(0), 16, 3)
    rates = []
    for _ in range(3):
        rates.append(float(trainer.optimizer.learning_rate))
        trainer.train_on(batch)
    assert rates[0] == pytest.approx(0.01) and rates[0] > rates[1] > rates[2] > 0
    assert float(trainer.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


def test_task_commands_train_evaluate_and_plot(tmp_path):
    recipe = tmp_path / "copy.yaml"
    recipe.write_text(yaml.safe_dump({
        "task": {"name": "copy", "bits": 3, "max_length": 3},
        "model": {"type": "ntm", "units": 8, "memory_size": 8, "memory_width": 4},
        "train": {"model_dir": str(tmp_path / "model"), "sequences": 64, "batch_size": 16, "log_every": 32}}))
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(recipe)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["sequences"] for line in (tmp_path / "model" / "metrics.jsonl").open()] == [32, 64]
    result = runner.invoke(app, ["task", "evaluate", str(tmp_path / "model"), "--lengths", "2,4",
                                 "--sequences", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["length"] for row in json.loads(result.stdout)] == [2, 4]
    result = runner.invoke(app, ["task", "heads", str(tmp_path / "model"), "--length", "3",
                                 "-o", str(tmp_path / "heads.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "heads.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["task", "evaluate", str(tmp_path / "model"), "--lengths", "2,x"])
    assert result.exit_code == 2 and "comma-separated" in result.output
    result = runner.invoke(app, ["task", "evaluate", str(tmp_path / "model"), "--repeats", "3"])
    assert result.exit_code == 2 and "--repeats is for repeat_copy models; this one learned copy" in result.output
    result = runner.invoke(app, ["info", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert "  name                 copy\n" in result.stdout and "64 sequences" in result.stdout
    described = json.loads(runner.invoke(app, ["info", str(tmp_path / "model"), "--json"]).stdout)
    assert described["architecture"]["memory_size"] == 8 and described["parameters"]["total"] > 0


def test_repeat_copy_is_evaluated_per_length_and_repeat_count(tmp_path):
    recipe = tmp_path / "repeat.yaml"
    recipe.write_text(yaml.safe_dump({
        "task": {"name": "repeat_copy", "bits": 3, "max_length": 3, "max_repeats": 3},
        "model": {"type": "ntm", "units": 8, "memory_size": 8, "memory_width": 4},
        "train": {"model_dir": str(tmp_path / "model"), "sequences": 32, "batch_size": 16}}))
    runner = CliRunner()
    assert runner.invoke(app, ["train", str(recipe)]).exit_code == 0
    result = runner.invoke(app, ["task", "evaluate", str(tmp_path / "model"), "--lengths", "2,4",
                                 "--repeats", "1,5", "--sequences", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["length"], r["repeats"]) for r in rows] == [(2, 1), (2, 5), (4, 1), (4, 5)]
    assert 0 <= rows[3]["bit_errors"] <= (4 * 5 + 1) * 4  # judged: 4 output bits at each copy step and the end
    result = runner.invoke(app, ["task", "heads", str(tmp_path / "model"), "--length", "2", "--repeats", "4",
                                 "-o", str(tmp_path / "heads.png")])
    assert result.exit_code == 0 and (tmp_path / "heads.png").is_file(), result.output


@pytest.mark.parametrize("override, message", [
    ("task.min_length=9", "task.min_length <= task.max_length"),
    ("model.type=gru", "model.type must be one of ntm, lstm, attention"),
])
def test_bad_task_recipes_are_one_line_errors(tmp_path, override, message):
    recipe = tmp_path / "copy.yaml"
    recipe.write_text(yaml.safe_dump({"task": {"name": "copy", "max_length": 5}}))
    result = CliRunner().invoke(app, ["train", str(recipe), "--set", override])
    assert result.exit_code == 78 and message in result.output and "Traceback" not in result.output


def test_the_ntm_translation_model_trains_and_translates_through_the_commands(tmp_path, dates_dir):
    recipe = write_recipe(tmp_path / "recipe.yaml", dates_dir, tmp_path / "run",
                          model={"type": "ntm", "memory_size": 16, "memory_width": 8},
                          train={"epochs": 2})
    runner = CliRunner()
    for command in (["preprocess", str(recipe)], ["train", str(recipe)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    sources = (dates_dir / "test.txt").read_text(encoding="utf-8").splitlines()[:40]
    references = (dates_dir / "test.iso").read_text(encoding="utf-8").splitlines()[:40]
    result = runner.invoke(app, ["translate", "--model", str(tmp_path / "run" / "model"), "--beam", "3"],
                           input="\n".join(sources) + "\n")
    assert result.exit_code == 0, result.output
    outputs = result.stdout.splitlines()
    assert len(outputs) == 40
    # 2 epochs of 4,000 dates: most characters already right (84% here; an untrained model gets ~10%)
    right = sum(a == b for out, ref in zip(outputs, references) for a, b in zip(out, ref))
    assert right / sum(map(len, references)) > 0.6, outputs[:5]
