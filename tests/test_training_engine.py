"""The training engine: exact resume after SIGKILL, early stopping, divergence,
schedules and optimizers, token batching, several replicas, curves and TensorBoard."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from nmtkit.config import TrainConfig, load_recipe
from nmtkit.data.batching import plan_batches
from nmtkit.optimization import LearningRate
from nmtkit.preprocess import preprocess
from nmtkit.training import train
from tests.conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke

ROOT = Path(__file__).resolve().parents[1]


def weights(path):
    with h5py.File(path) as f:
        found = []
        f.visititems(lambda name, obj: found.append((name, np.array(obj))) if hasattr(obj, "shape") else None)
        return found


def start_training(recipe_path: Path) -> subprocess.Popen:
    code = "import sys; from nmtkit.cli import main; sys.argv[0] = 'nmtkit'; main()"
    return subprocess.Popen([sys.executable, "-c", code, "train", str(recipe_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signal_handlers)


def default_signal_handlers() -> None:
    """A job started in the background by a shell without job control ignores SIGINT, and so do
    its children (nmtkit leaves an ignored signal ignored): give a started command the default
    handlers, as an interactive run has, so the tests do not depend on how pytest was started."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def wait_for_checkpoint(model_dir: Path, process: subprocess.Popen, timeout=120) -> None:
    deadline = time.monotonic() + timeout
    while not list((model_dir / "checkpoints").glob("step-*")):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_run_killed_at_a_random_point_resumes_to_the_same_weights(engine_recipe, tmp_path):
    whole = load_recipe(engine_recipe("whole"))
    train(whole)
    killed_path = engine_recipe("killed")
    process = start_training(killed_path)
    wait_for_checkpoint(tmp_path / "killed" / "model", process)
    time.sleep(random.uniform(0.0, 1.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    manifest = train(load_recipe(killed_path), resume=True)
    assert manifest["training"]["steps"] == json.loads((tmp_path / "whole" / "model" / "manifest.json").read_text())["training"]["steps"]
    final = sorted((tmp_path / "whole" / "model" / "checkpoints").glob("step-*"))[-1].name
    for (name, a), (_, b) in zip(weights(tmp_path / "whole" / "model" / "checkpoints" / final / "model.weights.h5"),
                                 weights(tmp_path / "killed" / "model" / "checkpoints" / final / "model.weights.h5")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    whole_metrics = [json.loads(line)["valid_loss"] for line in (tmp_path / "whole" / "model" / "metrics.jsonl").open()]
    killed_metrics = [json.loads(line)["valid_loss"] for line in (tmp_path / "killed" / "model" / "metrics.jsonl").open()]
    np.testing.assert_allclose(killed_metrics, whole_metrics, rtol=1e-5)


def test_early_stopping_on_validation_bleu(engine_recipe, tmp_path):
    # validations 40 steps apart, so that the plateau of the first steps (BLEU about 10) is not
    # taken for the end
    manifest = train(load_recipe(engine_recipe("early", epochs=15, batch_size=32, valid_every=40, valid_metric="bleu",
                                               patience=2)))
    training = manifest["training"]
    assert training["stopped_by"] == "early stopping"
    metrics = [json.loads(line) for line in (tmp_path / "early" / "model" / "metrics.jsonl").open()]
    bleu = [m["valid_bleu"] for m in metrics]
    assert training["best"]["valid_bleu"] == max(bleu) and max(bleu) > 50  # dates are easy
    assert bleu.index(max(bleu)) == len(bleu) - 3  # two validations without improvement, then stop
    assert training["epochs"] < 15


def test_a_diverging_run_stops_with_a_clear_error_and_keeps_its_checkpoint(engine_recipe, tmp_path, monkeypatch):
    from nmtkit import training

    real = training.Trainer.train_step
    calls = []

    def diverging(self, batch, learning_rate, *global_tokens):
        calls.append(1)
        loss, tokens = real(self, batch, learning_rate, *global_tokens)
        return (float("nan") if len(calls) > 45 else loss), tokens

    monkeypatch.setattr(training.Trainer, "train_step", diverging)
    path = engine_recipe("nan")
    result = invoke("train", path)
    assert result.exit_code == 70 and "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]  # after the progress lines, one error line
    assert last.startswith("nmtkit: error: the training loss became nan at step 46") and "step-00000040" in last
    assert (tmp_path / "nan" / "model" / "model.weights.h5").is_file()


def test_learning_rate_schedules():
    def rates(steps, **keys):
        schedule = LearningRate(TrainConfig(learning_rate=1.0, **keys))
        return [schedule.at(s) for s in steps]

    assert rates([0, 1, 3, 9], warmup_steps=4) == [0.25, 0.5, 1.0, 1.0]
    assert rates([0, 1000, 2000], lr_schedule="exponential", decay_rate=0.5, decay_steps=1000) == [1.0, 0.5, 0.25]
    assert rates([3, 15], lr_schedule="inverse_sqrt", warmup_steps=4) == [1.0, 0.5]
    assert rates([0, 5000], lr_schedule="exponential", decay_steps=1, min_learning_rate=0.01) == [1.0, 0.01]
    plateau = LearningRate(TrainConfig(learning_rate=1.0, lr_schedule="plateau", plateau_patience=2, decay_rate=0.1))
    decays = [plateau.observe(score) for score in (1.0, 2.0, 1.5, 1.9, 3.0, 2.0, 2.0)]
    assert decays == [False, False, False, True, False, False, True]
    assert plateau.at(0) == pytest.approx(0.01)


@pytest.mark.parametrize("clip_norm", [1.0, 100.0])  # the gradients' norm is about 3: clipped, then not
def test_the_fused_adam_takes_keras_adams_steps(clip_norm):
    import keras
    import tensorflow as tf

    from nmtkit.optimization import FusedAdam

    rng = np.random.default_rng(0)
    start = [rng.normal(size=s).astype(np.float32) for s in ((7, 3), (5,))]
    gradients = [[tf.IndexedSlices(tf.constant(rng.normal(size=(2, 3)), tf.float32), tf.constant([1, 4]), tf.constant([7, 3])),
                  tf.constant(rng.normal(size=5), tf.float32)] for _ in range(4)]
    finals = []
    for optimizer in (keras.optimizers.Adam(0.1, global_clipnorm=clip_norm, weight_decay=0.01),
                      FusedAdam(0.1, global_clipnorm=clip_norm, weight_decay=0.01)):
        variables = [keras.Variable(x) for x in start]
        apply = tf.function(lambda step: optimizer.apply_gradients(zip(step, variables)))  # noqa: B023
        for step in gradients:
            apply(step)
        finals.append([v.numpy() for v in variables])
    for begin, keras_adam, fused in zip(start, *finals):
        assert np.abs(keras_adam - begin).max() > 0.1  # the steps moved every variable
        np.testing.assert_allclose(fused, keras_adam, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_learns(optimizer):
    from nmtkit.config import ModelConfig
    from nmtkit.data.batching import make_batch
    from nmtkit.models.seq2seq import build_model
    from nmtkit.training import Trainer

    rng = np.random.default_rng(0)
    src = [rng.integers(4, 20, size=6) for _ in range(16)]
    batch = make_batch(src, src)
    model = build_model(ModelConfig(embedding_dim=16, encoder_units=8, decoder_units=16, dropout=0.0), 20, 20)
    rate = {"adam": 0.03, "adamw": 0.03, "sgd": 1.0, "rmsprop": 0.01}[optimizer]
    config = TrainConfig(optimizer=optimizer, learning_rate=rate, momentum=0.9 if optimizer == "sgd" else 0.0,
                         weight_decay=0.01 if optimizer == "adamw" else 0.0,
                         clip_value=1.0 if optimizer == "rmsprop" else 0.0, clip_norm=0.0 if optimizer == "rmsprop" else 5.0)
    trainer = Trainer(model, config)
    losses = [trainer.train_step(batch, config.learning_rate)[0] for _ in range(10)]
    assert losses[-1] < 0.95 * losses[0], losses  # 10 steps of a 20-token copy task: 7-12% lower


def test_token_batches_hold_the_limit_and_every_pair_once():
    rng = np.random.default_rng(1)
    src_len, tgt_len = rng.integers(1, 40, 500), rng.integers(1, 40, 500)
    chunks = plan_batches(src_len, tgt_len, 64, batch_tokens=300, rng=rng)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(500))
    for chunk in chunks:
        width = max(src_len[chunk].max(), tgt_len[chunk].max() + 1)
        assert len(chunk) == 1 or len(chunk) * width <= 300


def test_curves_plot_and_tensorboard(trained_model, tmp_path):
    out = tmp_path / "curves.png"
    assert invoke("plot", trained_model, "--output", out).exit_code == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert list((trained_model / "tensorboard").glob("events.out.tfevents.*"))
    assert_clean_error(invoke("plot", tmp_path), 66, "metrics.jsonl")


def test_resume_refuses_another_model(few_dates_dir, tmp_path):
    path = write_recipe(tmp_path / "other.yaml", few_dates_dir, tmp_path / "other")
    preprocess(load_recipe(path))
    train(load_recipe(path))  # a model directory with its checkpoint
    assert_clean_error(invoke("train", path, "--resume", "--set", "model.decoder_units=32",
                              "--set", "model.bridge=dense"), 78, "model section differs")
    assert_clean_error(invoke("train", path, "--device", "x"), 2)  # no such option value


def test_two_replicas_take_the_same_step_as_one():
    # A fresh process: the CPU must be split into logical devices before TensorFlow starts.
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from nmtkit.config import ModelConfig, TrainConfig
        from nmtkit.data.batching import make_batch
        from nmtkit.models.seq2seq import build_model
        from nmtkit.training import Trainer
        rng = np.random.default_rng(0)
        src = [rng.integers(4, 20, size=rng.integers(2, 8)) for _ in range(7)]
        tgt = [rng.integers(4, 20, size=rng.integers(2, 8)) for _ in range(7)]
        batch = make_batch(src, tgt)
        config = ModelConfig(embedding_dim=8, encoder_units=4, decoder_units=8, dropout=0.0)
        results = []
        for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
            tf.keras.utils.set_random_seed(1)
            with strategy.scope():
                model = build_model(config, 20, 20)
            trainer = Trainer(model, TrainConfig(), strategy)
            assert trainer.replicas == (1 if not results else 2)
            loss = trainer.train_step(batch, 0.01)
            results.append(([np.array(w) for w in model.get_weights()], loss))
        (one, loss_one), (two, loss_two) = results
        np.testing.assert_allclose(loss_one, loss_two, rtol=1e-5)
        for a, b in zip(one, two):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        print("same")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.strip().endswith("same"), result.stderr[-3000:]
