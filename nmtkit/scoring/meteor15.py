"""The official METEOR 1.5 (Denkowski and Lavie 2014), the one published Multi30k results use.

It is a Java program; its jar and English paraphrase table ship in the `pycocoevalcap` package
(`pip install 'nmtkit[meteor15]'`), and it needs `java` on the PATH. The jar runs on files in
a temporary folder with `-norm` (its own tokenization and lowercasing) and `-q` (segment scores
on stderr, the corpus score on stdout).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from nmtkit.errors import DataError, UsageError

# METEOR 1.5's languages: fully supported, then with language-independent parameters.
LANGUAGES = ("en", "cz", "de", "es", "fr", "da", "fi", "hu", "it", "nl", "no", "pt", "ro", "ru",
             "se", "tr")


def _meteor_folder() -> Path:
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("METEOR 1.5 needs the pycocoevalcap package: pip install 'nmtkit[meteor15]'")
    return Path(next(iter(spec.submodule_search_locations))) / "meteor"


def _modules(folder: Path, language: str) -> tuple[list[str], list[str]]:
    """The jar's matcher modules for `language`, and what the report should note about them.

    Paraphrase tables are separate files and pycocoevalcap ships only the English one; WordNet
    synonyms exist only for English. Other languages get exact and stem matches.
    """
    if language == "en" and (folder / "data" / "paraphrase-en.gz").is_file():
        return ["exact", "stem", "synonym", "paraphrase"], []
    return ["exact", "stem"], [f"no paraphrase table for {language}: exact and stem matches only"]


def meteor15(hyps: Sequence[str], refs: Sequence[Sequence[str]], language: str) -> dict:
    java = shutil.which("java")
    if java is None:
        raise UsageError("METEOR 1.5 needs Java: `java` is not on the PATH")
    folder = _meteor_folder()
    modules, notes = _modules(folder, language)
    with tempfile.TemporaryDirectory(prefix="nmtkit-meteor.") as tmp:
        hyp_file, ref_file = Path(tmp) / "hyp", Path(tmp) / "ref"
        # The jar reads lines; a newline inside a sentence would shift every later one.
        hyp_file.write_text("".join(_one_line(h) + "\n" for h in hyps), encoding="utf-8")
        # With -r N the reference file holds each sentence's N references on consecutive lines.
        ref_file.write_text("".join(_one_line(ref_set[i]) + "\n"
                                    for i in range(len(hyps)) for ref_set in refs), encoding="utf-8")
        command = [java, "-Xmx2G", "-jar", str(folder / "meteor-1.5.jar"), str(hyp_file),
                   str(ref_file), "-l", language, "-norm", "-q", "-r", str(len(refs)),
                   "-m", " ".join(modules)]
        run = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    sentences = [float(line) for line in run.stderr.splitlines() if _is_number(line)]
    if run.returncode != 0 or len(sentences) != len(hyps) or not _is_number(run.stdout.strip()):
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"METEOR 1.5 failed (exit {run.returncode}): {last}")
    return {
        "score": 100.0 * float(run.stdout.strip()),
        "sentences": [100.0 * s for s in sentences],
        "implementation": f"METEOR 1.5 (jar from pycocoevalcap), -l {language} -norm, "
                          "the language's default parameters",
        "matchers": modules,
        "notes": notes,
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
