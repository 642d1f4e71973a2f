import gzip

import pytest

from nmtkit.atomic import atomic_dir
from nmtkit.data.textio import find_corpus, iter_parallel, read_lines
from nmtkit.errors import DataError, ModelDirError


def test_plain_and_gzip_read_alike(tmp_path):
    text = "\ufeffErste Zeile\r\nzweite\n\nvierte"
    (tmp_path / "a.de").write_text(text, encoding="utf-8", newline="")
    with gzip.open(tmp_path / "b.de.gz", "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    expected = ["Erste Zeile", "zweite", "", "vierte"]
    assert read_lines(tmp_path / "a.de") == expected
    assert read_lines(tmp_path / "b.de.gz") == expected


def test_find_corpus_prefers_plain_then_gz(tmp_path):
    (tmp_path / "train.en.gz").write_bytes(gzip.compress(b"x\n"))
    assert find_corpus(tmp_path, "train", "en").name == "train.en.gz"
    with pytest.raises(DataError, match=r"train.de \(or .*train.de.gz\) not found"):
        find_corpus(tmp_path, "train", "de")


def test_invalid_utf8_names_file_and_line(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok\nalso ok\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.txt line 3: invalid UTF-8"):
        read_lines(tmp_path / "bad.txt")


def test_binary_file_is_rejected(tmp_path):
    (tmp_path / "blob").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(DataError, match="does not look like a text file"):
        read_lines(tmp_path / "blob")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_lines(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_lines(tmp_path)


def test_parallel_files_must_match(tmp_path):
    (tmp_path / "a").write_text("1\n2\n3\n")
    (tmp_path / "b").write_text("1\n2\n")
    (tmp_path / "c").write_text("1\n2\n3\n4\n5\n")
    with pytest.raises(DataError, match=r"a has 3 lines, .*b has 2"):
        list(iter_parallel(tmp_path / "a", tmp_path / "b"))
    with pytest.raises(DataError, match=r"b has 2 lines, .*c has 5"):
        list(iter_parallel(tmp_path / "b", tmp_path / "c"))
    assert list(iter_parallel(tmp_path / "a", tmp_path / "a")) == [("1", "1"), ("2", "2"), ("3", "3")]


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as staging:
            (staging / "half").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_only_when_asked(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as staging:
        (staging / "v").write_text("1")
    with pytest.raises(ModelDirError, match="already exists"):
        with atomic_dir(target):
            pass
    with atomic_dir(target, overwrite=True) as staging:
        (staging / "v").write_text("2")
    assert (target / "v").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
