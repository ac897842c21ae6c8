"""Key files made on first start: whole before anyone reads them, one key however many
processes start at once, 0600, never overwritten."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from config import keyfiles
from config.keyfiles import ensure_key_file, read_key_file


def test_starting_at_once_agrees_on_one_whole_key(tmp_path):
    path = tmp_path / "keys" / "service.key"
    with ThreadPoolExecutor(16) as pool:
        keys = list(pool.map(lambda _: ensure_key_file(path, 32), range(64)))
    assert len(set(keys)) == 1
    assert len(keys[0]) == 32
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_an_existing_key_is_never_overwritten(tmp_path):
    path = tmp_path / "service.key"
    path.write_bytes(b"k" * 32)
    assert ensure_key_file(path, 32) == b"k" * 32


@pytest.fixture
def cached_at_once(monkeypatch):
    """Cache key files as soon as they are read (normally only once they are 2 s old)."""
    monkeypatch.setattr(keyfiles, "SETTLE_SECONDS", 0)


def test_a_key_file_renamed_over_is_read_anew(tmp_path, cached_at_once):
    path = tmp_path / "kek.key"
    path.write_bytes(b"a" * 32)
    assert read_key_file(path) == b"a" * 32
    (tmp_path / "kek.key.next").write_bytes(b"b" * 32)
    os.replace(tmp_path / "kek.key.next", path)
    assert read_key_file(path) == b"b" * 32


def test_a_key_file_rewritten_in_place_is_read_anew(tmp_path, cached_at_once):
    path = tmp_path / "kek.key"
    path.write_bytes(b"a" * 32)
    os.utime(path, ns=(0, 0))
    assert read_key_file(path) == b"a" * 32
    path.write_bytes(b"b" * 32)
    assert read_key_file(path) == b"b" * 32


def test_a_deleted_key_file_is_missing_not_remembered(tmp_path, cached_at_once):
    path = tmp_path / "kek.key"
    path.write_bytes(b"a" * 32)
    assert read_key_file(path) == b"a" * 32
    path.unlink()
    with pytest.raises(FileNotFoundError):
        read_key_file(path)
