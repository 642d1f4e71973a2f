"""Fault scenarios, run for real: signals, a second trainer, dead locks, damaged files, failed
writes, readers during a publish, and bad input; one row each, and a verdict.

    .venv/bin/python bench/faults.py [--work DIR] [--model DIR]

Each scenario runs `nmtkit` commands in processes of their own against a tiny training run on
the demo task (generated into --work) and against a trained model (--model, default the demo's
runs/demo-dates/model; trained briefly into --work when absent). A row gives the exit code, the
last line on stderr, the newest intact checkpoint and whether the published model is intact.
A scenario loses something when a checkpoint or model that existed before it is damaged or gone
afterwards, or a temporary file is left behind; the last line counts those and the tracebacks.
Failed writes (a full disk, a read-only folder) are made by a patched writer that raises the
OSError the system would, since this machine cannot fill or remount a disk on demand.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmtkit.checkpoints import checkpoint_dirs  # noqa: E402
from nmtkit.checksums import verify_checksums  # noqa: E402
from nmtkit.errors import ModelDirError  # noqa: E402
from nmtkit.run_lock import lock_path  # noqa: E402

TRAIN = ["train.epochs=40", "train.valid_every=20", "train.keep_checkpoints=3", "model.embedding_dim=32",
         "model.encoder_units=32", "model.decoder_units=64"]
FAIL_SECOND = """
import errno, nmtkit.{module} as m
real, calls = m.{name}, []
def failing(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        raise OSError(errno.{errno}, "{text}")
    return real(*args, **kwargs)
m.{name} = failing
"""


@dataclass
class Row:
    name: str
    code: int
    line: str
    traceback: bool
    kept: str = "-"  # the newest intact checkpoint
    model: str = "-"  # the published model: intact or not
    lost: bool = False


class Bench:
    def __init__(self, work: Path, model: Path | None):
        self.work = work
        self.rows: list[Row] = []
        self.model = model

    # --- running commands -------------------------------------------------------------------

    def start(self, *args: str, hook: str = "", stdin=subprocess.DEVNULL, text: bool = True) -> subprocess.Popen:
        script = f"{hook}\nimport sys; from nmtkit.cli import main; sys.argv[0] = 'nmtkit'; main()"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the nmtkit of this tree, whatever is installed
        return subprocess.Popen([sys.executable, "-c", script, *args], cwd=self.work, stdin=stdin, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                                preexec_fn=_default_signals)

    def run(self, *args: str, hook: str = "", stdin: bytes = b"") -> tuple[int, str]:
        process = self.start(*args, hook=hook, stdin=subprocess.PIPE, text=False)
        _, stderr = process.communicate(stdin, timeout=600)
        return process.returncode, stderr.decode("utf-8", "replace")

    def record(self, name: str, code: int, stderr: str, model_dir: Path | None = None,
               lost: bool = False) -> None:
        lines = stderr.strip().splitlines() or [""]
        row = Row(name, code, lines[-1], "Traceback" in stderr, lost=lost)
        if model_dir is not None:
            row.kept, row.model, damaged = _state(model_dir)
            row.lost = row.lost or damaged or bool(_leftovers(model_dir.parent))
        self.rows.append(row)
        print(f"  {name}: exit {code}", file=sys.stderr, flush=True)

    # --- setting up -------------------------------------------------------------------------

    def prepare(self) -> None:
        subprocess.run([sys.executable, "-m", "nmtkit.cli", "--help"], capture_output=True)  # warm caches
        code, stderr = self.run("data", "dates", "data", "--overwrite")
        assert code == 0, stderr
        shutil.copyfile(ROOT / "recipes" / "demo-dates.yaml", self.work / "recipe.yaml")
        code, stderr = self.run("preprocess", "recipe.yaml", "--set", "data.root=data",
                                "--set", "data.prepared=prepared")
        assert code == 0, stderr
        if self.model is None:
            code, stderr = self.run("train", "recipe.yaml", *self.sets("demo", epochs=1))
            assert code == 0, stderr
            self.model = self.work / "demo" / "model"

    def sets(self, name: str, **train) -> list[str]:
        keys = ["data.root=data", "data.prepared=prepared", f"train.model_dir={name}/model", *TRAIN,
                *(f"train.{k}={v}" for k, v in train.items())]
        return [a for key in keys for a in ("--set", key)]

    def train_until_checkpoint(self, name: str, **train) -> tuple[subprocess.Popen, Path]:
        process = self.start("train", "recipe.yaml", *self.sets(name, **train))
        model_dir = self.work / name / "model"
        while not checkpoint_dirs(model_dir):
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read())
            time.sleep(0.05)
        return process, model_dir

    def copy_model(self, name: str) -> Path:
        target = self.work / "models" / name
        shutil.copytree(self.model, target)
        return target

    # --- the scenarios ----------------------------------------------------------------------

    def signals_during_training(self) -> None:
        for number, name in ((signal.SIGINT, "train: SIGINT"), (signal.SIGTERM, "train: SIGTERM")):
            process, model_dir = self.train_until_checkpoint(name.split()[-1].lower())
            process.send_signal(number)
            _, stderr = process.communicate(timeout=300)
            self.record(name, process.returncode, stderr, model_dir)
        process, model_dir = self.train_until_checkpoint("storm")
        process.send_signal(signal.SIGTERM)
        while "received" not in process.stderr.readline():  # two pending signals go lowest number first
            pass
        while process.poll() is None:
            process.send_signal(signal.SIGINT)
            time.sleep(0.005)
        self.record("train: SIGTERM, then SIGINT every 5 ms", process.returncode, process.stderr.read(), model_dir)
        code, stderr = self.run("train", "recipe.yaml", *self.sets("storm", epochs=1), "--resume")
        self.record("train --resume after the signals", code, stderr, model_dir)

    def sigkill_and_locks(self) -> None:
        process, model_dir = self.train_until_checkpoint("killed")
        code, stderr = self.run("train", "recipe.yaml", *self.sets("killed"), "--resume")
        self.record("a second trainer into a live one's directory", code, stderr, model_dir)
        process.kill()
        process.communicate()
        lock = lock_path(model_dir).exists()
        self.record("train: SIGKILL", process.returncode, "(killed: no message; its lock file left)" if lock else "",
                    model_dir)
        code, stderr = self.run("train", "recipe.yaml", *self.sets("killed", epochs=1), "--resume")
        self.record("train --resume after SIGKILL (its lock left)", code, stderr, model_dir,
                    lost="took over the lock" not in stderr)

    def damaged_files(self) -> None:
        model = self.copy_model("truncated")
        weights = model / "model.weights.h5"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        code, stderr = self.run("translate", "--model", str(model), stdin=b"3 May 2001\n")
        self.rows.append(Row("translate: truncated weights", code, _last(stderr), "Traceback" in stderr))
        model = self.copy_model("flipped")
        _flip(model / "model.weights.h5")
        code, stderr = self.run("translate", "--model", str(model), stdin=b"3 May 2001\n")
        self.rows.append(Row("translate: one bit flipped in the weights", code, _last(stderr), "Traceback" in stderr))
        model = self.copy_model("no-tokenizer")
        (model / "tokenizers.json").unlink()
        code, stderr = self.run("translate", "--model", str(model), stdin=b"3 May 2001\n")
        self.rows.append(Row("translate: tokenizers.json missing", code, _last(stderr), "Traceback" in stderr))

        process, model_dir = self.train_until_checkpoint("damaged", checkpoint_every=5)
        while len(checkpoint_dirs(model_dir)) < 3:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=300)
        newest = checkpoint_dirs(model_dir)[-1]
        _flip(newest / "optimizer.npz")
        code, stderr = self.run("average", f"{model_dir}", "--last", "2", "--output", "damaged/averaged")
        self.record("average: a damaged checkpoint", code, stderr, lost=(self.work / "damaged/averaged").exists())
        code, stderr = self.run("train", "recipe.yaml", *self.sets("damaged", epochs=1), "--resume")
        self.record("train --resume: newest checkpoint damaged", code, stderr, model_dir,
                    lost=f"skipped checkpoint {newest.name}" not in stderr)

    def failed_writes(self) -> None:
        cases = [("train: disk full writing a checkpoint", "checkpoints", "write_checksums", "ENOSPC",
                  "No space left on device"),
                 ("train: disk full publishing a model", "artifacts", "format_checksums", "ENOSPC",
                  "No space left on device"),
                 ("train: folder turned read-only", "atomic", "tempfile.mkdtemp", "EROFS",
                  "Read-only file system")]
        for name, module, function, number, text in cases:
            folder = name.split(": ")[1].replace(" ", "-")
            hook = FAIL_SECOND.format(module=module, name=function, errno=number, text=text)
            code, stderr = self.run("train", "recipe.yaml", *self.sets(folder, epochs=2), hook=hook)
            self.record(name, code, stderr, self.work / folder / "model")

    def interrupted_commands(self) -> None:
        process = self.start("translate", "--model", str(self.model), stdin=subprocess.PIPE)
        process.stdin.write("3 May 2001\n")
        process.stdin.flush()
        _wait_reading_stdin(process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        self.rows.append(Row("translate: SIGINT while reading", process.returncode, _last(stderr), "Traceback" in stderr))

        before = {p.name: p.read_bytes() for p in (self.work / "prepared").iterdir()}
        hook = ("import sys, time, nmtkit.preprocess as p\n"
                "def slow(*args):\n    print('vocabularies', file=sys.stderr, flush=True); time.sleep(600)\n"
                "p._build_vocabs = slow")
        process = self.start("preprocess", "recipe.yaml", "--set", "data.root=data", "--set",
                             "data.prepared=prepared", hook=hook)
        process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        after = {p.name: p.read_bytes() for p in (self.work / "prepared").iterdir()}
        self.rows.append(Row("preprocess: SIGTERM half-way", process.returncode, _last(stderr), "Traceback" in stderr,
                             model="prepared intact" if after == before else "prepared CHANGED",
                             lost=after != before or bool(_leftovers(self.work))))

        process = self.start("score", "--ref", "data/test.iso", stdin=subprocess.PIPE)
        _wait_reading_stdin(process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        self.rows.append(Row("score: SIGTERM while reading", process.returncode, _last(stderr), "Traceback" in stderr))

    def readers_during_publishing(self) -> None:
        process, model_dir = self.train_until_checkpoint("publishing", valid_every=5)
        codes, errors = [], []
        for _ in range(6):
            code, stderr = self.run("translate", "--model", f"{model_dir}", stdin=b"3 May 2001\n")
            codes.append(code)
            if code:
                errors.append(_last(stderr))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=300)
        self.rows.append(Row("6 translates while training publishes models",
                             max(codes), errors[0] if errors else "all translated", False,
                             lost=bool(errors)))

    def bad_input(self) -> None:
        (self.work / "bad").mkdir(exist_ok=True)
        (self.work / "bad" / "train.txt.gz").write_bytes(gzip.compress(b"1 May 2001\n" * 50)[:-20])
        for name in ("train.iso", "val.txt", "val.iso"):
            shutil.copyfile(self.work / "data" / name, self.work / "bad" / name)
        cases = [
            ("recipe missing", ["preprocess", "missing.yaml"], b""),
            ("recipe: unknown key", ["train", "recipe.yaml", "--set", "train.epoch=3"], b""),
            ("recipe: value out of range", ["train", "recipe.yaml", "--set", "model.dropout=2"], b""),
            ("corpus: corrupt gzip", ["preprocess", "recipe.yaml", "--set", "data.root=bad", "--set",
                                      "data.prepared=bad/prepared"], b""),
            ("translate: a folder that is not a model", ["translate", "--model", "data"], b"x\n"),
            ("translate: binary stdin", ["translate", "--model", str(self.model)], b"\x00\x01\x02\n"),
            ("translate: invalid UTF-8 on stdin", ["translate", "--model", str(self.model)], b"ok\n\xff\xfe\n"),
            ("score: references and hypotheses differ in length", ["score", "--ref", "data/test.iso"], b"x\n"),
            ("an unknown option", ["translate", "--beems", "3"], b""),
        ]
        for name, args, stdin in cases:
            code, stderr = self.run(*args, stdin=stdin)
            self.rows.append(Row(name, code, _last(stderr), "Traceback" in stderr,
                                 lost=bool(_leftovers(self.work / "bad"))))

    # --- the report -------------------------------------------------------------------------

    def report(self) -> int:
        print(f"{'scenario':<47} {'exit':>4}  {'newest intact checkpoint':<24} {'model':<16} message")
        for r in self.rows:
            print(f"{r.name:<47} {r.code:>4}  {r.kept:<24} {r.model:<16} {r.line}")
        tracebacks = sum(r.traceback for r in self.rows)
        lost = sum(r.lost for r in self.rows)
        print(f"{len(self.rows)} scenarios, {tracebacks} tracebacks, {lost} lost")
        return 1 if tracebacks or lost else 0


def _default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):  # as an interactive shell starts a command
        signal.signal(number, signal.SIG_DFL)


def _last(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return lines[-1] if lines else ""


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _state(model_dir: Path) -> tuple[str, str, bool]:
    """The newest intact checkpoint, whether the published model is intact, and whether anything
    there is damaged (the scenarios that damage files on purpose do not record the folder, or
    end with a run that replaces them)."""
    if not model_dir.exists():
        return "none", "none", False
    damaged, newest = [], "none"
    for checkpoint in checkpoint_dirs(model_dir):
        try:
            verify_checksums(checkpoint)
            newest = checkpoint.name
        except ModelDirError:
            damaged.append(checkpoint.name)
    try:
        verify_checksums(model_dir)
        model = "intact"
    except ModelDirError:
        model = "DAMAGED"
    return newest, model, model != "intact" or bool(damaged)


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files and folders of nmtkit's atomic writes (locks are another matter)."""
    return [p for p in folder.rglob(".*") if not p.name.endswith(".lock")]


def _wait_reading_stdin(process: subprocess.Popen) -> None:
    read = {"x86_64": 0, "aarch64": 63}[os.uname().machine]
    while Path(f"/proc/{process.pid}/syscall").read_text().split()[:2] != [str(read), "0x0"]:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read())
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="Folder for the runs (default: a temporary one, removed).")
    parser.add_argument("--model", type=Path, help="A trained model directory (default: the demo's).")
    args = parser.parse_args()
    demo = ROOT / "runs" / "demo-dates" / "model"
    model = (args.model or (demo if demo.is_dir() else None))
    work = args.work or Path(tempfile.mkdtemp(prefix="nmtkit-faults."))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(work.resolve(), model.resolve() if model else None)
    began = time.monotonic()
    try:
        print(f"preparing in {work} ...", file=sys.stderr, flush=True)
        bench.prepare()
        for scenarios in (bench.signals_during_training, bench.sigkill_and_locks, bench.damaged_files,
                          bench.failed_writes, bench.interrupted_commands, bench.readers_during_publishing,
                          bench.bad_input):
            scenarios()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    status = bench.report()
    print(f"({time.monotonic() - began:.0f} s)", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
