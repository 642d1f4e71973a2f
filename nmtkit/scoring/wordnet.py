"""WordNet for METEOR's synonym matches: find nltk's copy, or install one offline.

nltk reads WordNet 3.0 from `<nltk_data>/corpora/wordnet/`. Online, `nltk.download` fills it.
Offline, the dictionary files of any WordNet 3.0 installation will do (Debian's `wordnet-base` and
`wordnet-sense-index` put them in /usr/share/wordnet), but nltk also wants a `lexnames` file, which those packages
lack, and it refuses symbolic links that point out of its data folder, so the files are copied
and `lexnames` is written from the list in WordNet's lexnames(5) manual page.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from nmtkit.atomic import atomic_dir
from nmtkit.errors import DataError

# WordNet 3.0's lexicographer files, in file-number order (lexnames(5WN)).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_POS = ("noun", "verb", "adj", "adv")
# nltk (3.9 and later) also reads index.sense, which Debian ships apart, in wordnet-sense-index.
REQUIRED_FILES = tuple(f"{kind}.{pos}" for kind in ("data", "index") for pos in _POS) + tuple(
    f"{pos}.exc" for pos in _POS
) + ("index.sense",)


def default_nltk_data() -> Path:
    """`<prefix>/nltk_data`: on nltk's search path, inside nmtkit's own virtual environment."""
    return Path(sys.prefix) / "nltk_data"


def lexnames_text() -> str:
    return "".join(
        f"{number:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n"
        for number, name in enumerate(LEXNAMES)
    )


def install_wordnet(nltk_data: Path, source: Path | None = None, overwrite: bool = False) -> Path:
    """Install WordNet as `nltk_data/corpora/wordnet`: copied from the dictionary folder `source`,
    or downloaded by nltk when `source` is None. Returns the installed folder."""
    target = nltk_data / "corpora" / "wordnet"
    if source is not None:
        missing = [name for name in REQUIRED_FILES if not (source / name).is_file()]
        if missing:
            raise DataError(f"{source} is not a WordNet 3.0 dict folder: {', '.join(missing)} not found")
    with atomic_dir(target, overwrite) as staging:
        if source is None:
            _download_into(staging)
        else:
            for name in REQUIRED_FILES + ("lexnames",):
                if (source / name).is_file():  # copies, not links: nltk refuses links out
                    shutil.copyfile(source / name, staging / name)
        if not (staging / "lexnames").is_file():
            (staging / "lexnames").write_text(lexnames_text(), encoding="utf-8")
    return target


def _download_into(folder: Path) -> None:
    """nltk's own WordNet package, unpacked into `folder`."""
    import nltk

    with tempfile.TemporaryDirectory() as tmp:
        try:
            nltk.download("wordnet", download_dir=tmp, quiet=True, raise_on_error=True)
        except Exception as exc:  # nltk raises whatever urllib or its index parser raised
            raise DataError(
                f"could not download WordNet ({exc}); offline, install it from a WordNet 3.0 "
                "dict folder with --from (e.g. Debian's wordnet-base: /usr/share/wordnet)"
            ) from None
        corpora = Path(tmp) / "corpora"
        if not (corpora / "wordnet").is_dir():
            shutil.unpack_archive(corpora / "wordnet.zip", corpora)
        for path in (corpora / "wordnet").iterdir():
            shutil.move(path, folder / path.name)


def load_wordnet():
    """nltk's WordNet reader, or None when WordNet is not installed where nltk looks."""
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return None
    return wordnet
