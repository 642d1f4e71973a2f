"""What a model directory promises: one trainer at a time, damage detected rather than loaded,
failed writes that keep what was there, and readers that see one whole model while a trainer
publishes another."""

import errno
import json
import shutil
import signal
import threading
import time

import numpy as np
import pytest

from nmtkit.artifacts import WEIGHTS, load_model_dir
from nmtkit.checkpoints import checkpoint_dirs
from nmtkit.checksums import CHECKSUMS, file_digest, read_checksums, verify_checksums
from nmtkit.run_lock import lock_path
from tests.conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke
from tests.test_training_engine import start_training, wait_for_checkpoint


def flip_a_byte(path, at=0.5):
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def few_recipe(tmp_path, few_dates_dir):
    """A 13-step epoch, validated and checkpointed every 5 steps: several checkpoints quickly."""
    def make(name="run", **train_keys):
        return write_recipe(tmp_path / f"{name}.yaml", few_dates_dir, tmp_path / name,
                            data={"prepared": str(tmp_path / "prepared")},
                            train={"valid_every": 5, "keep_checkpoints": 5, **train_keys})
    invoke("preprocess", make())
    return make


def test_a_second_trainer_is_refused_while_a_reader_loads_whole_models(engine_recipe, tmp_path):
    path = engine_recipe("busy", epochs=50, valid_every=5)
    process = start_training(path)
    model_dir = tmp_path / "busy" / "model"
    try:
        wait_for_checkpoint(model_dir, process)
        assert_clean_error(invoke("train", path, "--resume"), 66, str(model_dir),
                           f"being trained by process {process.pid} ")
        # Meanwhile the trainer publishes a new best model every few validations.
        loaded, deadline = set(), time.monotonic() + 20
        while time.monotonic() < deadline and len(loaded) < 3:
            model = load_model_dir(model_dir).model
            loaded.add(hash(b"".join(np.asarray(w).tobytes() for w in model.get_weights())))
        assert len(loaded) >= 3, "no new model was published while loading"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)
    assert process.returncode == 143
    assert not lock_path(model_dir).exists()


def test_a_reader_waits_out_the_gap_between_new_weights_and_their_checksum(trained_model, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model, model_dir)
    new_weights = load_model_dir(model_dir).model
    new_weights.set_weights([w * 0.5 for w in new_weights.get_weights()])
    new_weights.save_weights(tmp_path / "new.weights.h5")
    shutil.copyfile(tmp_path / "new.weights.h5", model_dir / WEIGHTS)  # the checksum comes 0.1 s late
    sums = (model_dir / CHECKSUMS).read_text().replace(read_checksums(model_dir)[WEIGHTS], file_digest(model_dir / WEIGHTS))
    late = threading.Timer(0.1, lambda: (model_dir / CHECKSUMS).write_text(sums))
    late.start()
    model = load_model_dir(model_dir).model
    late.join()
    for loaded, written in zip(model.get_weights(), new_weights.get_weights()):
        np.testing.assert_array_equal(loaded, written)


def test_damaged_weights_are_reported_not_loaded(trained_model, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model, model_dir)
    flip_a_byte(model_dir / WEIGHTS)  # HDF5 itself would load this without a word
    assert_clean_error(invoke("translate", "--model", model_dir, input="3 May 2001\n"), 66,
                       f"{model_dir / WEIGHTS} is damaged")


def test_resume_skips_damaged_checkpoints_and_average_refuses_them(few_recipe, tmp_path):
    path = few_recipe("run", epochs=1)
    assert invoke("train", path).exit_code == 0
    model_dir = tmp_path / "run" / "model"
    kept = checkpoint_dirs(model_dir)
    flip_a_byte(kept[-1] / "optimizer.npz")
    (kept[-2] / "model.weights.h5").write_bytes((kept[-2] / "model.weights.h5").read_bytes()[:1000])

    averaged = invoke("average", model_dir, "--last", "2", "--output", tmp_path / "avg")
    assert_clean_error(averaged, 66, str(kept[-2] / "model.weights.h5"), "damaged")
    assert not (tmp_path / "avg").exists()

    result = invoke("train", path, "--resume", "--set", "train.epochs=2")
    assert result.exit_code == 0, result.output
    assert f"note: skipped checkpoint {kept[-1].name}: {kept[-1] / 'optimizer.npz'} is damaged" in result.stderr
    assert f"note: skipped checkpoint {kept[-2].name}" in result.stderr
    assert f"resuming from {kept[-3]}" in result.stderr
    assert json.loads((model_dir / "manifest.json").read_text())["training"]["steps"] == 26
    for checkpoint in checkpoint_dirs(model_dir):  # the damaged ones written anew on the way
        verify_checksums(checkpoint)


def test_a_lock_left_by_a_dead_trainer_is_taken_over(few_recipe, tmp_path):
    path = few_recipe("run", epochs=1)
    lock = lock_path(tmp_path / "run" / "model")
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": 999_999, "host": "gone", "started": "2026-01-01 00:00:00",
                                "command": "nmtkit train run.yaml"}) + "\n")
    result = invoke("train", path)
    assert result.exit_code == 0, result.output
    assert "note: took over the lock of process 999999 on gone" in result.stderr
    assert not lock.exists()


@pytest.mark.parametrize("failing", ["checkpoint", "model"])
def test_a_full_disk_stops_training_and_keeps_what_was_written(few_recipe, tmp_path, monkeypatch, failing):
    import nmtkit.artifacts
    import nmtkit.checkpoints

    # The second checkpoint, or the second best model, finds the disk full half-way through.
    module, name = (nmtkit.checkpoints, "write_checksums") if failing == "checkpoint" else \
        (nmtkit.artifacts, "format_checksums")
    real, calls = getattr(module, name), []

    def full(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, full)
    path = few_recipe("run", epochs=3, learning_rate=0.01)
    result = invoke("train", path)
    model_dir = tmp_path / "run" / "model"
    kept = checkpoint_dirs(model_dir)
    *progress, last = result.stderr.strip().splitlines()
    assert result.exit_code == 74 and all(line.startswith("step ") for line in progress), result.output
    assert last.startswith(f"nmtkit: error: cannot write {'a checkpoint' if failing == 'checkpoint' else 'the model'} "
                           f"in {model_dir}: No space left on device")
    assert last.endswith(f"keeps the checkpoint {kept[-1].name})")
    for checkpoint in kept:
        verify_checksums(checkpoint)
    assert load_model_dir(model_dir).model is not None  # the model published before, intact
    assert not list(tmp_path.joinpath("run").rglob(".*")), "temporary files left"


def test_an_unwritable_place_is_one_line(few_recipe, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = invoke("train", few_recipe("run"), "--set", f"train.model_dir={tmp_path / 'file' / 'model'}")
    assert_clean_error(result, 74, str(tmp_path / "file"))
