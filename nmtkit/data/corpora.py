"""Corpora the project can fetch or make: Multi30k (Elliott et al. 2016) and a generated task."""

from __future__ import annotations

import calendar
import datetime
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from nmtkit.atomic import atomic_dir
from nmtkit.errors import DataError

MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{name}"
MULTI30K_FILES = [
    f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr") for lang in ("de", "en")
]


def fetch_multi30k(dest: str | Path, source: str | Path | None = None, overwrite: bool = False) -> list[str]:
    """Multi30k task 1 raw text into `dest`, copied from a local folder or downloaded."""
    with atomic_dir(dest, overwrite) as out:
        for name in MULTI30K_FILES:
            if source is not None:
                path = Path(source) / name
                if not path.is_file():
                    raise DataError(f"Multi30k file {path} not found in {source}")
                shutil.copyfile(path, out / name)
            else:
                url = MULTI30K_URL.format(name=name)
                try:
                    with urllib.request.urlopen(url, timeout=60) as response:
                        (out / name).write_bytes(response.read())
                except (urllib.error.URLError, OSError) as exc:
                    raise DataError(f"cannot download {url}: {exc}; use --from DIR offline") from None
    return MULTI30K_FILES


# ----- the generated demo task: writing dates in ISO 8601 -----------------------------------

_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}
_FORMATS = (
    lambda d: f"{d.day} {calendar.month_name[d.month]} {d.year}",
    lambda d: f"{calendar.month_name[d.month]} {d.day}, {d.year}",
    lambda d: f"the {d.day}{_ORDINAL_SUFFIX.get(d.day, 'th')} of {calendar.month_name[d.month]} {d.year}",
    lambda d: f"{calendar.day_name[d.weekday()]}, {calendar.month_name[d.month]} {d.day}, {d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year}",
    lambda d: f"{calendar.month_abbr[d.month]} {d.day} {d.year}",
    lambda d: f"{d.day} {calendar.month_name[d.month].upper()} {d.year}",
    lambda d: f"{calendar.day_abbr[d.weekday()]} {d.day} {calendar.month_abbr[d.month]} {d.year}",
)
_FIRST, _LAST = datetime.date(1900, 1, 1).toordinal(), datetime.date(2099, 12, 31).toordinal()


def date_pairs(ordinals: np.ndarray, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """The given dates written in random English styles (source) and in ISO 8601 (target)."""
    src, tgt = [], []
    for ordinal, style in zip(ordinals, rng.integers(0, len(_FORMATS), len(ordinals))):
        date = datetime.date.fromordinal(int(ordinal))
        src.append(_FORMATS[style](date))
        tgt.append(date.isoformat())
    return src, tgt


def make_dates(dest: str | Path, sizes=(20000, 1000, 1000), seed: int = 7, overwrite: bool = False) -> None:
    """Write the dates task as parallel files {train,val,test}.{txt,iso} in `dest`.

    Every date occurs once in all splits together, so test dates are never seen in training.
    """
    rng = np.random.default_rng(seed)
    ordinals = _FIRST + rng.choice(_LAST - _FIRST + 1, size=sum(sizes), replace=False)
    bounds = np.cumsum((0, *sizes))
    with atomic_dir(dest, overwrite) as out:
        for split, start, stop in zip(("train", "val", "test"), bounds, bounds[1:]):
            src, tgt = date_pairs(ordinals[start:stop], rng)
            (out / f"{split}.txt").write_text("\n".join(src) + "\n", encoding="utf-8")
            (out / f"{split}.iso").write_text("\n".join(tgt) + "\n", encoding="utf-8")
