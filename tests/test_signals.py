"""SIGINT and SIGTERM: training stops after a checkpoint and resumes exactly; every other command
exits at once with 130 / 143 and one line, leaving nothing half-written.

Each test starts the real command in a process of its own and waits for a sign that it is where
the signal must land (a checkpoint on disk, a translated line, a message, the handlers installed)
before sending it, so no test depends on timing or on how the shell started pytest."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nmtkit.checkpoints import checkpoint_dirs
from nmtkit.checksums import verify_checksums
from nmtkit.config import load_recipe
from nmtkit.training import train
from nmtkit.translate import Translator
from tests.conftest import write_recipe
from tests.test_cli import invoke
from tests.test_training_engine import ROOT, default_signal_handlers, start_training, wait_for_checkpoint, weights


def start_command(*args, code="") -> subprocess.Popen:
    """`nmtkit ARGS` in a process of its own; `code` runs first (a test hook)."""
    script = f"{code}\nimport sys; from nmtkit.cli import main; sys.argv[0] = 'nmtkit'; main()"
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signal_handlers)


@pytest.fixture
def interactive_signals():
    """This process's SIGINT and SIGTERM as an interactive shell starts a command, for the tests
    that signal themselves: a pytest started in the background by a non-interactive shell ignores
    SIGINT, and nmtkit leaves an ignored signal ignored."""
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for number, handler in previous.items():
        signal.signal(number, handler)


def finish(process: subprocess.Popen, timeout=120) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    assert "Traceback" not in stderr, stderr
    return stdout, stderr


def assert_stopped(result, code, *fragments):
    """An in-process command stopped by a signal: its exit code, and its one line saying so."""
    assert result.exit_code == code and "Traceback" not in result.output, result.output
    last = result.stderr.strip().splitlines()[-1]  # after any progress lines
    assert last.startswith("nmtkit: stopped: "), result.stderr
    for fragment in fragments:
        assert fragment in last


def test_sigint_stops_training_at_a_checkpoint_that_resumes_exactly(engine_recipe, tmp_path):
    whole = load_recipe(engine_recipe("whole"))
    train(whole)
    path = engine_recipe("stopped", epochs=50)  # the stop lands long before the end
    process = start_training(path)
    model_dir = tmp_path / "stopped" / "model"
    wait_for_checkpoint(model_dir, process)
    process.send_signal(signal.SIGINT)
    _, stderr = finish(process)
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    step = json.loads(checkpoint_dirs(model_dir)[-1].joinpath("state.json").read_text())["step"]
    assert last.startswith(f"nmtkit: stopped: SIGINT at step {step} ") and f"step-{step:08d}" in last
    assert last.endswith(f"continue with `nmtkit train {path} --resume`")
    assert json.loads((model_dir / "manifest.json").read_text())["training"]["stopped_by"] == "SIGINT"

    manifest = train(load_recipe(path, ["train.epochs=2"]), resume=True)
    assert manifest["training"]["steps"] == 2 * 63  # 2 epochs in all
    final = "checkpoints/step-00000126/model.weights.h5"
    for (name, a), (_, b) in zip(weights(tmp_path / "whole" / "model" / final), weights(model_dir / final)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_signals_while_stopping_do_not_cut_the_checkpoint_short(engine_recipe, tmp_path):
    path = engine_recipe("sigterm", epochs=50)
    process = start_training(path)
    model_dir = tmp_path / "sigterm" / "model"
    wait_for_checkpoint(model_dir, process)
    process.send_signal(signal.SIGTERM)
    # Two signals pending at once are handled lowest number first: wait until this one is seen.
    while "SIGTERM received" not in process.stderr.readline():
        assert process.poll() is None
    again = [signal.SIGINT, signal.SIGTERM]
    while process.poll() is None:  # as an impatient user, or a scheduler that repeats itself
        process.send_signal(again[0])
        again.reverse()
        time.sleep(0.01)
    _, stderr = finish(process)
    assert process.returncode == 143  # the first signal decides
    assert stderr.strip().splitlines()[-1].startswith("nmtkit: stopped: SIGTERM at step ")
    for checkpoint in checkpoint_dirs(model_dir):
        verify_checksums(checkpoint)
    assert not [p for p in model_dir.rglob(".*")], "temporary files left behind"
    assert train(load_recipe(path, ["train.epochs=1"]), resume=True)["training"]["steps"] >= 63


def test_a_stop_before_the_first_checkpoint_leaves_no_model(tiny_recipe, tmp_path, monkeypatch, interactive_signals):
    from nmtkit import training

    assert invoke("preprocess", tiny_recipe).exit_code == 0
    real = training.Trainer.train_step

    def signalled(self, batch, learning_rate, *global_tokens):
        os.kill(os.getpid(), signal.SIGTERM)  # handled by nmtkit's handler in this process too
        return real(self, batch, learning_rate, *global_tokens)

    monkeypatch.setattr(training.Trainer, "train_step", signalled)
    assert_stopped(invoke("train", tiny_recipe), 143, "SIGTERM at step 1 ", "nothing was kept", "--resume")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["data"]


def test_a_stopped_task_run_keeps_what_it_learned(tmp_path, monkeypatch, interactive_signals):
    from nmtkit import task_training

    recipe = tmp_path / "copy.yaml"
    recipe.write_text(yaml.safe_dump({
        "task": {"name": "copy", "bits": 3, "max_length": 3},
        "model": {"type": "ntm", "units": 8, "memory_size": 8, "memory_width": 4},
        "train": {"model_dir": str(tmp_path / "model"), "sequences": 6400, "batch_size": 16, "log_every": 32}}))
    real, calls = task_training.TaskTrainer.train_on, []

    def signalled(self, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, batch)

    monkeypatch.setattr(task_training.TaskTrainer, "train_on", signalled)
    assert_stopped(invoke("train", recipe), 130, "SIGINT after 48 sequences", str(tmp_path / "model"))
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["stopped_by"] == "SIGINT" and manifest["sequences"] == 48
    verify_checksums(tmp_path / "model")


READ = {"x86_64": 0, "aarch64": 63}[os.uname().machine]  # the read(2) system call's number


def wait_until_reading_stdin(process: subprocess.Popen, timeout=120) -> None:
    """Until the process's main thread waits in read(2) on its standard input."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{process.pid}/syscall").read_text().split()[:2] != [str(READ), "0x0"]:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_translate_stops_while_reading(trained_model, number):
    process = start_command("translate", "--model", trained_model)
    process.stdin.write("3 March 2021\n")  # and stdin stays open
    process.stdin.flush()
    assert select.select([process.stdout], [], [], 120)[0], "no translation while stdin stays open"
    first = process.stdout.readline()
    wait_until_reading_stdin(process)  # for the next line
    process.send_signal(number)
    rest, stderr = finish(process)
    assert process.returncode == 128 + number
    assert first == Translator([trained_model]).translate(["3 March 2021"])[0].text + "\n" and rest == ""
    assert stderr.strip().splitlines() == [f"nmtkit: stopped by {signal.Signals(number).name}"]


def test_score_stops_while_reading(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("a b c\n")
    process = start_command("score", "--ref", ref)
    process.stdin.write("a b c\n")  # and stdin stays open
    process.stdin.flush()
    wait_until_reading_stdin(process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = finish(process)
    assert process.returncode == 130 and stdout == ""
    assert stderr.strip().splitlines() == ["nmtkit: stopped by SIGINT"]


def test_preprocess_stopped_midway_keeps_the_previous_prepared_data(few_dates_dir, tmp_path):
    recipe = write_recipe(tmp_path / "recipe.yaml", few_dates_dir, tmp_path / "run")
    assert invoke("preprocess", recipe).exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "data").iterdir()}
    hook = ("import sys, time, nmtkit.preprocess as p\n"
            "def slow(*args):\n"
            "    print('building vocabularies', file=sys.stderr, flush=True)\n"
            "    time.sleep(120)\n"
            "p._build_vocabs = slow")
    process = start_command("preprocess", recipe, code=hook)
    assert process.stderr.readline().strip() == "building vocabularies"  # half-way through
    process.send_signal(signal.SIGTERM)
    _, stderr = finish(process)
    assert process.returncode == 143
    assert stderr.strip().splitlines()[-1] == "nmtkit: stopped by SIGTERM"
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["data"]  # no staging folder left
    assert {p.name: p.read_bytes() for p in (tmp_path / "run" / "data").iterdir()} == before
