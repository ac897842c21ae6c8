"""Vault throughput and memory against the `cryptography` package's AESGCM on the same bytes,
in the same run.

Throughput, for 1, 16 and 256 MiB of random bytes:

- raw: one `AESGCM.encrypt` / `decrypt` call over the whole blob in memory (the reference);
- stream: the vault's segmented encryption and decryption streams, the code the encrypted
  storage runs once it has the data key, over bytes in memory like the reference: encryption
  reads the plaintext `vault.put` is given and hands out its pieces the way the storage hands
  them to its backend; decryption is read 1 MiB at a time. `stream_file_mib_s`: decryption
  reading its ciphertext from a file object instead, as it does under the storage (one copy of
  each segment, the read);
- storage: `vault.put` and `vault.open_blob` end to end: the data key looked up in the
  database (this check is what makes a shredded key final), the KEK checked and the data key
  unwrapped, the blob encrypted and handed to the backend chunk by chunk. The backend under the
  vault is in memory (it drops ciphertext while encryption is timed, like /dev/null, and serves
  it from memory while decryption is timed), so the figures are the vault's, not a disk's.
  `per_blob_ms` is that fixed cost alone: reading and putting a blob of 0 bytes (median).

Other work may share the cores, so times are this thread's CPU time (time.thread_time: time
the bench is preempted does not count; nothing here waits on I/O, the database being SQLite in
this process), each round times every way once, one after the other, and each figure is the
best of its rounds (at least --repeat; more for small blobs).

Memory: the peak of the Python heap (tracemalloc, which sees every bytes object, the cipher's
output included) while a blob streams from a generator-backed reader into the default backend,
a folder on disk, and back out in 1 MiB reads; the blob is never held whole.

    python -m bench.vault [--json] [--repeat N] [--segment-size BYTES]
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

MIB = 1024 * 1024
GOAL = 0.8
SIZES_MIB = (1, 16, 256)
READ_SIZE = MIB


def setup_django(scratch):
    """A throwaway service: its own data folder, SQLite database and KEK file."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SITTER_DATA_DIR": str(scratch),
            "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
            "SITTER_KEK": "",
            "SITTER_KEK_FILE": str(scratch / "kek.key"),
        }
    )
    (scratch / "kek.key").write_bytes(os.urandom(32))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


class GeneratedReader(io.RawIOBase):
    """``size`` bytes made on demand by cycling one random MiB: a blob never held whole."""

    def __init__(self, size, pattern):
        self.remaining = size
        self.pattern = pattern
        self.offset = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.remaining, len(self.pattern) - self.offset)
        buffer[:count] = self.pattern[self.offset : self.offset + count]
        self.offset = (self.offset + count) % len(self.pattern)
        self.remaining -= count
        return count


def best_seconds(ways, rounds):
    """{name: best seconds} of ``ways`` ({name: function}), each run once per round in turn."""
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for name, run in ways.items():
            started = time.thread_time()
            run()
            best[name] = min(best[name], time.thread_time() - started)
    return best


def drain(stream, size=READ_SIZE):
    total = 0
    while chunk := stream.read(size):
        total += len(chunk)
    return total


def memory_vault(vault):
    """The encrypted storage over a backend in memory (see the module's text)."""
    from django.core.files.storage import Storage

    class MemoryCiphertext(Storage):
        def __init__(self):
            self.blobs = {}
            self.keep = True

        def _save(self, name, content):
            if self.keep:
                self.blobs[name] = b"".join(content.chunks())
            else:
                for _chunk in content.chunks():
                    pass
            return name

        def _open(self, name, mode="rb"):
            return io.BytesIO(self.blobs[name])

        def exists(self, name):
            return name in self.blobs

        def delete(self, name):
            self.blobs.pop(name, None)

    class VaultInMemory(type(vault.storage)):
        inner = MemoryCiphertext()

    return VaultInMemory(segment_size=vault.storage.segment_size)


def measure_throughput(vault, subject, size_mib, repeat):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from portrait.vault import Kind
    from portrait.vault.crypto import (
        DEFAULT_SEGMENT_SIZE,
        HEADER_SIZE,
        BlobContext,
        BlobHeader,
        DecryptingReader,
        EncryptingReader,
        read_header,
    )

    data = os.urandom(size_mib * MIB)
    key = AESGCM.generate_key(bit_length=256)
    aead, nonce = AESGCM(key), os.urandom(12)
    sealed = aead.encrypt(nonce, data, None)
    context = BlobContext(str(subject.pk), Kind.OUTPUT, "bench")
    segment_size = vault.storage.segment_size or DEFAULT_SEGMENT_SIZE

    def stream_encrypt():
        header = BlobHeader.new(uuid.uuid4(), segment_size)
        return EncryptingReader(data, key, header, context)

    blob = stream_encrypt().read()

    def stream_decrypt():
        body = memoryview(blob)[HEADER_SIZE:]
        assert drain(DecryptingReader(body, key, BlobHeader.parse(blob), context)) == len(data)

    def stream_file_decrypt():
        source = io.BytesIO(blob)
        assert drain(DecryptingReader(source, key, read_header(source), context)) == len(data)

    def storage_decrypt():
        with vault.open_blob(name) as handle:
            assert drain(handle) == len(data)

    backend = vault.storage.inner
    backend.keep = True
    name = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), data)
    assert vault.read(name) == data
    backend.keep = False
    rounds = max(repeat, min(200, 1024 // size_mib))
    seconds = {
        "encrypt": best_seconds(
            {
                "raw": lambda: aead.encrypt(nonce, data, None),
                "stream": lambda: sum(map(len, stream_encrypt().pieces())),
                "storage": lambda: vault.put(subject, Kind.OUTPUT, uuid.uuid4(), data),
            },
            rounds,
        ),
        "decrypt": best_seconds(
            {
                "raw": lambda: aead.decrypt(nonce, sealed, None),
                "stream": stream_decrypt,
                "stream_file": stream_file_decrypt,
                "storage": storage_decrypt,
            },
            rounds,
        ),
    }
    vault.destroy(name)

    result = {"size_mib": size_mib, "rounds": rounds}
    for direction, times in seconds.items():
        rates = {way: size_mib / spent for way, spent in times.items()}
        result[direction] = {f"{way}_mib_s": round(rate) for way, rate in rates.items()}
        result[direction]["stream_ratio"] = round(rates["stream"] / rates["raw"], 2)
        result[direction]["storage_ratio"] = round(rates["storage"] / rates["raw"], 2)
    result["decrypt"]["stream_file_ratio"] = round(
        seconds["decrypt"]["raw"] / seconds["decrypt"]["stream_file"], 2
    )
    return result


def measure_per_blob_ms(vault, subject, repeat=200):
    from portrait.vault import Kind

    vault.storage.inner.keep = True
    name = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b"")
    vault.storage.inner.keep = False
    ways = {
        "read": lambda: vault.read(name),
        "put": lambda: vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b""),
    }
    times = {way: [] for way in ways}
    for _ in range(repeat):
        for way, run in ways.items():
            started = time.thread_time()
            run()
            times[way].append(time.thread_time() - started)
    vault.destroy(name)
    return {way: round(statistics.median(spent) * 1000, 3) for way, spent in times.items()}


def measure_peak_memory(vault, subject, size_mib):
    from portrait.vault import Kind

    pattern = os.urandom(MIB)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        name = vault.put(
            subject, Kind.OUTPUT, uuid.uuid4(), GeneratedReader(size_mib * MIB, pattern)
        )
        with vault.open_blob(name) as handle:
            assert drain(handle) == size_mib * MIB
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    vault.destroy(name)
    return {"size_mib": size_mib, "peak_mib": round(peak / MIB, 2)}


def settle_kek_file():
    """Wait until the KEK file is old enough to be cached, as in a service that has run a while
    (config.keyfiles reads a just-written key file afresh on every use)."""
    from django.conf import settings

    from config.keyfiles import SETTLE_SECONDS

    age = time.time() - Path(settings.SITTER_KEK_FILE).stat().st_ctime
    time.sleep(max(0.0, SETTLE_SECONDS - age))


def run(repeat, segment_size):
    from django.contrib.auth import get_user_model

    from portrait import vault
    from portrait.models import Subject
    from portrait.vault.crypto import DEFAULT_SEGMENT_SIZE

    subject = Subject.objects.create(user=get_user_model().objects.create_user("bench"))
    settle_kek_file()
    on_disk = vault.storage
    on_disk.segment_size = segment_size
    vault.storage = memory_vault(vault)
    try:
        throughput = [measure_throughput(vault, subject, size, repeat) for size in SIZES_MIB]
        per_blob_ms = measure_per_blob_ms(vault, subject)
    finally:
        vault.storage = on_disk
    memory = [measure_peak_memory(vault, subject, size) for size in SIZES_MIB]
    figures = {
        "segment_kib": (segment_size or DEFAULT_SEGMENT_SIZE) // 1024,
        "repeat": repeat,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "throughput": throughput,
        "per_blob_ms": per_blob_ms,
        "peak_memory": memory,
        "memory_tool": "tracemalloc",
    }
    figures["goal_missed"] = missed_goals(figures)
    return figures


def missed_goals(figures):
    """Each ratio under the goal, as "<size> MiB <direction> <way>"."""
    return [
        f"{row['size_mib']} MiB {direction} {way}"
        for row in figures["throughput"]
        for direction in ("encrypt", "decrypt")
        for way in ("stream", "storage")
        if row[direction][f"{way}_ratio"] < GOAL
    ]


def _table(figures):
    lines = [
        f"vault, {figures['segment_kib']} KiB segments; MiB/s, best of the rounds; ratios to raw "
        f"AESGCM (goal >= {GOAL})",
        f"{'':>16} {'rounds':>6} {'raw':>6} {'stream':>7} {'ratio':>6} {'storage':>8} {'ratio':>6}",
    ]
    for row in figures["throughput"]:
        for direction in ("encrypt", "decrypt"):
            cells = row[direction]
            lines.append(
                f"{row['size_mib']:>4} MiB {direction} {row['rounds']:>6} {cells['raw_mib_s']:>6} "
                f"{cells['stream_mib_s']:>7} {cells['stream_ratio']:>6.2f} "
                f"{cells['storage_mib_s']:>8} {cells['storage_ratio']:>6.2f}"
            )
    lines.append(
        "decrypt stream reading its ciphertext from a file object (MiB/s, ratio): "
        + ", ".join(
            f"{row['size_mib']} MiB {row['decrypt']['stream_file_mib_s']} "
            f"{row['decrypt']['stream_file_ratio']:.2f}"
            for row in figures["throughput"]
        )
    )
    per_blob = figures["per_blob_ms"]
    lines.append(
        f"per-blob cost (data key lookup, KEK check, unwrap), median: read {per_blob['read']} ms, "
        f"put {per_blob['put']} ms"
    )
    lines.append(
        "peak memory streaming to disk and back (tracemalloc, MiB): "
        + ", ".join(
            f"{row['size_mib']} MiB blob: {row['peak_mib']}" for row in figures["peak_memory"]
        )
    )
    missed = figures["goal_missed"]
    lines.append("goal missed by: " + ", ".join(missed) if missed else "goal met everywhere")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best counts")
    parser.add_argument(
        "--segment-size", type=int, help="plaintext bytes per segment (default: the vault's)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sitter-bench-vault-") as scratch:
        setup_django(Path(scratch))
        figures = run(args.repeat, args.segment_size)
    print(json.dumps(figures) if args.json else _table(figures))


if __name__ == "__main__":
    main()
