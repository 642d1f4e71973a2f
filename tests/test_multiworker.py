"""Multi-worker training (tf.distribute.MultiWorkerMirroredStrategy) on this machine: two local
workers started by `nmtkit train --workers 2` train the model one process trains, only the chief
writes, a stopped run resumes to the same weights, a killed worker is one line on the others.

Each test starts the real command and waits for a sign on disk (a checkpoint) before it signals
or kills, with a bound on every wait: a hang is a failure."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nmtkit.checkpoints import checkpoint_dirs
from nmtkit.checksums import verify_checksums
from nmtkit.config import load_recipe
from nmtkit import launcher
from nmtkit.launcher import free_ports
from nmtkit.preprocess import preprocess
from nmtkit.training import train
from tests.conftest import write_recipe
from tests.test_cli import assert_clean_error, invoke
from tests.test_signals import finish, start_command
from tests.test_training_engine import ROOT, weights

# 400 pairs in batches of 32: 13 steps an epoch, validated and checkpointed every 5 steps.
TRAIN = {"epochs": 1, "batch_size": 32, "valid_every": 5, "keep_checkpoints": 2}
WAIT_S = 180  # the longest any test waits for a process (a hang fails instead of stalling the suite)


@pytest.fixture(scope="module")
def few(tmp_path_factory, few_dates_dir):
    """make(name, **train_keys): a recipe training into WORK/name on data prepared once."""
    work = tmp_path_factory.mktemp("multiworker")
    prepared = work / "prepared"

    def make(name, **train_keys):
        path = write_recipe(work / f"{name}.yaml", few_dates_dir, work / name, data={"prepared": str(prepared)},
                            train={**TRAIN, **train_keys})
        if not prepared.exists():
            preprocess(load_recipe(path))
        return path
    return make


@pytest.fixture(scope="module")
def one_process(few) -> Path:
    """The reference: the run on one process."""
    path = few("one")
    train(load_recipe(path))
    return Path(load_recipe(path).train.model_dir)


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert process.poll() is None, f"ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S} s"
        time.sleep(0.05)


def assert_same_model(a: Path, b: Path) -> None:
    step = checkpoint_dirs(a)[-1].name
    assert step == checkpoint_dirs(b)[-1].name
    for (name, x), (_, y) in zip(weights(a / "checkpoints" / step / "model.weights.h5"),
                                 weights(b / "checkpoints" / step / "model.weights.h5")):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=name)
    for key in ("valid_loss", "train_loss"):
        np.testing.assert_allclose([m[key] for m in metrics(a)], [m[key] for m in metrics(b)], rtol=1e-5)


def metrics(model_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (model_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_workers_train_the_model_of_one_process_and_only_the_chief_writes(few, one_process):
    path = few("two")
    process = start_command("train", path, "--workers", "2")
    _, stderr = finish(process, timeout=WAIT_S)
    assert process.returncode == 0, stderr
    model_dir = Path(load_recipe(path).train.model_dir)
    assert_same_model(one_process, model_dir)
    manifest = json.loads((model_dir / "manifest.json").read_text())["training"]
    assert manifest["workers"] == 2 and manifest["replicas"] == 2 and manifest["steps"] == 13
    # the chief's files, as one process writes them, and nothing else anywhere
    assert sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if "tensorboard" not in p.parts) \
        == sorted(p.relative_to(one_process).as_posix() for p in one_process.rglob("*") if "tensorboard" not in p.parts)
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["model"]
    lines = stderr.strip().splitlines()
    assert lines[0] == "training on 2 workers, 2 replicas in all"
    assert sum(line.startswith("step 5 ") for line in lines) == 1  # the chief's progress alone


def test_a_stopped_multi_worker_run_resumes_to_the_weights_of_one_process(few, one_process):
    path = few("stopped", epochs=50)  # the stop lands long before the end
    model_dir = Path(load_recipe(path).train.model_dir)
    process = start_command("train", path, "--workers", "2")
    wait_for(lambda: checkpoint_dirs(model_dir), process, "checkpoint")
    process.send_signal(signal.SIGINT)
    _, stderr = finish(process, timeout=WAIT_S)
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    step = json.loads((checkpoint_dirs(model_dir)[-1] / "state.json").read_text())["step"]
    assert last.startswith(f"nmtkit: stopped: SIGINT at step {step} ") and f"step-{step:08d}" in last, stderr
    assert last.endswith(f"continue with `nmtkit train {path} --workers 2 --resume`")

    process = start_command("train", path, "--workers", "2", "--resume", "--set", "train.epochs=1")
    _, stderr = finish(process, timeout=WAIT_S)
    assert process.returncode == 0, stderr
    assert f"resuming from {checkpoint_dirs(model_dir)[0].parent}/step-{step:08d}" in stderr
    assert_same_model(one_process, model_dir)


def test_a_killed_worker_is_one_line_on_the_chief_and_the_checkpoint_resumes(few):
    path = few("killed", epochs=50)
    model_dir = Path(load_recipe(path).train.model_dir)
    process = start_command("train", path, "--workers", "2", "--worker-timeout", "30")
    wait_for(lambda: checkpoint_dirs(model_dir), process, "checkpoint")
    chief, worker = children(process.pid)
    os.kill(worker, signal.SIGKILL)
    _, stderr = finish(process, timeout=WAIT_S)
    assert process.returncode == 137  # the first failing worker's
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("nmtkit: error: lost worker 1 (127.0.0.1:") and " at step " in last, stderr
    kept = checkpoint_dirs(model_dir)[-1]
    assert f"keeps the checkpoint {kept.name}" in last
    assert last.endswith(f"`nmtkit train {path} --workers 2 --worker-timeout 30 --resume`")
    assert not Path(f"/proc/{chief}").exists()  # no worker left behind
    for checkpoint in checkpoint_dirs(model_dir):
        verify_checksums(checkpoint)
    manifest = train(load_recipe(path, ["train.epochs=1"]), resume=True)  # on one process, say
    assert manifest["training"]["steps"] == 13


def test_a_killed_chief_is_named_by_the_launcher(few):
    path = few("chief", epochs=50)
    model_dir = Path(load_recipe(path).train.model_dir)
    process = start_command("train", path, "--workers", "2")
    wait_for(lambda: checkpoint_dirs(model_dir), process, "checkpoint")
    chief, worker = children(process.pid)
    os.kill(chief, signal.SIGKILL)
    _, stderr = finish(process, timeout=WAIT_S)
    assert process.returncode == 137
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("nmtkit: error: the chief (worker 0) was killed by SIGKILL; training stopped "
                           f"({model_dir} keeps the checkpoint step-"), stderr
    assert not Path(f"/proc/{worker}").exists()


def test_a_taken_port_is_one_line_and_exit_75(few):
    path = few("port")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        config = json.dumps({"cluster": {"worker": [address, f"127.0.0.1:{free_ports(1)[0]}"]},
                             "task": {"type": "worker", "index": 0}})
        code = "import sys; from nmtkit.cli import main; sys.argv[0] = 'nmtkit'; main()"
        result = subprocess.run([sys.executable, "-c", code, "train", str(path)], cwd=ROOT, capture_output=True,
                                text=True, timeout=WAIT_S, env={**os.environ, "TF_CONFIG": config})
    assert result.returncode == 75 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"nmtkit: error: worker 0 cannot listen on {address} " \
                                                     "(another program holds the port?)"


@pytest.mark.parametrize("tf_config, fragment", [
    ("{not json", "TF_CONFIG is not a cluster description"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     "nmtkit trains with workers only"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "is not in its cluster"),
])
def test_a_bad_tf_config_is_one_line(few, monkeypatch, tf_config, fragment):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert_clean_error(invoke("train", few("bad")), 2, fragment)


def test_workers_options_are_checked(few, monkeypatch):
    assert_clean_error(invoke("train", few("zero"), "--workers", "0"), 2)
    assert_clean_error(invoke("train", ROOT / "recipes" / "copy-lstm.yaml", "--workers", "2"), 2,
                       "not algorithmic tasks")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}')
    assert_clean_error(invoke("train", few("both"), "--workers", "2"), 2, "unset TF_CONFIG")


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(4)
    assert len(set(ports)) == 4
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_workers_that_stop_together_give_their_exit_code(monkeypatch):
    """A stop on a signal ends every worker at the same step, so the launcher may see them all
    ended at one look: their exit code is still the command's, not success."""
    class Worker:
        killed_by, code = None, None

        def __init__(self, index):
            self.index = index

        def poll(self):
            return self.code

    workers = [Worker(0), Worker(1)]

    def both_end(seconds):  # while the launcher waits between two looks
        for worker in workers:
            worker.code = 130

    monkeypatch.setattr(launcher.time, "sleep", both_end)
    assert launcher._watch(workers, kept=lambda: "", forwarded=[signal.SIGINT]) == (130, None)
