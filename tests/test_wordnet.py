"""WordNet for METEOR: installed offline from a WordNet 3.0 dict folder, then used for synonyms.

The dict folder comes from Debian's wordnet-base and wordnet-sense-index (CI installs them and
sets NMTKIT_REQUIRE_WORDNET, so these tests run there rather than skip).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmtkit.cli import app
from nmtkit.scoring.wordnet import LEXNAMES, REQUIRED_FILES, install_wordnet

DICT = Path(os.environ.get("NMTKIT_WORDNET_DICT", "/usr/share/wordnet"))
needs_dict = pytest.mark.skipif(
    not (DICT / "index.sense").is_file() and not os.environ.get("NMTKIT_REQUIRE_WORDNET"),
    reason=f"no WordNet 3.0 dict folder at {DICT} (apt-get install wordnet-base wordnet-sense-index)",
)
runner = CliRunner()


@needs_dict
def test_lexnames_agree_with_the_dictionary():
    """Every synset's lexicographer file number names a file of its own part of speech."""
    for pos, prefixes in (("noun", ("noun.",)), ("verb", ("verb.",)), ("adv", ("adv.",)),
                          ("adj", ("adj.",))):
        with open(DICT / f"data.{pos}", encoding="utf-8") as data:
            numbers = {int(line.split()[1]) for line in data if not line.startswith("  ")}
        assert all(LEXNAMES[n].startswith(prefixes) for n in numbers), pos


@needs_dict
def test_installed_wordnet_gives_meteor_synonym_matches(tmp_path):
    nltk_data = tmp_path / "nltk_data"
    result = runner.invoke(app, ["data", "wordnet", "--from", str(DICT), "--dest", str(nltk_data)])
    assert result.exit_code == 0, result.output
    installed = nltk_data / "corpora" / "wordnet"
    assert {p.name for p in installed.iterdir()} == {*REQUIRED_FILES, "lexnames"}
    assert not any(p.is_symlink() for p in installed.iterdir())

    (tmp_path / "hyp").write_text("a hound runs across the lawn\n")
    (tmp_path / "ref").write_text("a dog runs across the grass\n")
    code = (  # a fresh interpreter: nltk caches the WordNet it loads
        "from typer.testing import CliRunner; from nmtkit.cli import app; "
        f"r = CliRunner().invoke(app, ['score', '--json', '--ref', r'{tmp_path / 'ref'}', "
        f"r'{tmp_path / 'hyp'}']); print(r.stdout)"
    )
    env = {**os.environ, "NLTK_DATA": str(nltk_data)}
    meteor = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                       capture_output=True, text=True).stdout)["meteor"]
    assert meteor["wordnet"] and "synonym (WordNet)" in meteor["matchers"]

    from nltk.translate.meteor_score import meteor_score
    from nmtkit.scoring.meteor import _NoSynonyms

    without = 100 * meteor_score([["a", "dog", "runs", "across", "the", "grass"]],
                                 ["a", "hound", "runs", "across", "the", "lawn"], wordnet=_NoSynonyms())
    assert meteor["score"] > without + 10  # hound/dog and lawn/grass now match


def test_install_refuses_what_is_not_a_dict_folder(tmp_path):
    result = runner.invoke(app, ["data", "wordnet", "--from", str(tmp_path), "--dest", str(tmp_path / "d")])
    assert result.exit_code == 65
    assert result.stderr.count("\n") == 1 and "is not a WordNet 3.0 dict folder" in result.stderr
    assert not (tmp_path / "d" / "corpora" / "wordnet").exists()


def fake_dict(folder: Path) -> Path:
    folder.mkdir()
    for name in REQUIRED_FILES:
        (folder / name).write_text("")
    return folder


def test_install_keeps_an_existing_wordnet_unless_told(tmp_path):
    source = fake_dict(tmp_path / "dict")
    install_wordnet(tmp_path / "d", source)
    result = runner.invoke(app, ["data", "wordnet", "--from", str(source), "--dest", str(tmp_path / "d")])
    assert result.exit_code == 66 and "already exists" in result.stderr
    install_wordnet(tmp_path / "d", source, overwrite=True)


def test_download_unpacks_nltks_zip(tmp_path, monkeypatch):
    import nltk

    source = fake_dict(tmp_path / "dict")

    def download(package, download_dir, **kwargs):  # what nltk leaves: corpora/wordnet.zip
        assert package == "wordnet"
        corpora = Path(download_dir) / "corpora"
        shutil.copytree(source, corpora / "wordnet")
        shutil.make_archive(str(corpora / "wordnet"), "zip", root_dir=corpora, base_dir="wordnet")
        shutil.rmtree(corpora / "wordnet")
        return True

    monkeypatch.setattr(nltk, "download", download)
    target = install_wordnet(tmp_path / "d", None)
    assert {p.name for p in target.iterdir()} == {*REQUIRED_FILES, "lexnames"}


def test_download_failure_says_how_to_install_offline(tmp_path, monkeypatch):
    import nltk

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(nltk, "download", offline)
    result = runner.invoke(app, ["data", "wordnet", "--dest", str(tmp_path / "d")])
    assert result.exit_code == 65 and "--from" in result.stderr and "network unreachable" in result.stderr
    assert not (tmp_path / "d" / "corpora" / "wordnet").exists()
