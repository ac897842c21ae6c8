"""Key files made on first start: whole before anyone reads them, one key however many
processes start at once, 0600, never overwritten."""

import os
from concurrent.futures import ThreadPoolExecutor

from config.keyfiles import ensure_key_file


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
