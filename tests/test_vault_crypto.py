import io
import uuid

import pytest

from portrait.vault.crypto import (
    HEADER_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    BlobContext,
    BlobHeader,
    BlobTampered,
    BlobTruncated,
    DecryptingReader,
    EncryptingReader,
    KekWrong,
    NotAVaultBlob,
    decrypt_bytes,
    encrypt_bytes,
    new_data_key,
    plaintext_size,
    read_header,
    unwrap_key,
    wrap_key,
)

KEY = bytes(range(32))
KEY_ID = uuid.UUID(int=7)
CONTEXT = BlobContext("owner-a", "photo", "record-1")
SEGMENT = 1024


def encrypt(data, context=CONTEXT):
    return encrypt_bytes(data, KEY, KEY_ID, context, segment_size=SEGMENT)


def segment_bounds(blob, index):
    start = HEADER_SIZE + index * (NONCE_SIZE + SEGMENT + TAG_SIZE)
    return start, start + NONCE_SIZE + SEGMENT + TAG_SIZE


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 5 * SEGMENT + 17])
def test_round_trip_at_every_size(size):
    data = bytes(i % 251 for i in range(size))
    assert decrypt_bytes(encrypt(data), KEY, CONTEXT) == data


def test_ciphertext_holds_no_plaintext():
    data = b"\xff\xd8\xff\xe0JFIF" + b"A" * 3000
    blob = encrypt(data)
    assert b"JFIF" not in blob
    assert b"AAAAAAAA" not in blob


def test_same_plaintext_encrypts_differently_each_time():
    assert encrypt(b"same bytes") != encrypt(b"same bytes")


def test_header_names_the_data_key():
    header = BlobHeader.parse(encrypt(b"x")[:HEADER_SIZE])
    assert header.key_id == KEY_ID
    assert header.segment_size == SEGMENT


def test_changed_byte_is_tampering():
    blob = bytearray(encrypt(b"x" * 3000))
    blob[HEADER_SIZE + NONCE_SIZE + 5] ^= 1
    with pytest.raises(BlobTampered):
        decrypt_bytes(bytes(blob), KEY, CONTEXT)


def test_blob_moved_to_another_record_fails():
    blob = encrypt(b"portrait")
    with pytest.raises(BlobTampered):
        decrypt_bytes(blob, KEY, BlobContext("owner-a", "photo", "record-2"))


def test_blob_moved_to_another_owner_fails():
    blob = encrypt(b"portrait")
    with pytest.raises(BlobTampered):
        decrypt_bytes(blob, KEY, BlobContext("owner-b", "photo", "record-1"))


def test_blob_of_another_kind_fails():
    blob = encrypt(b"portrait")
    with pytest.raises(BlobTampered):
        decrypt_bytes(blob, KEY, BlobContext("owner-a", "adapter", "record-1"))


def test_reordered_segments_are_detected():
    blob = encrypt(bytes(range(256)) * 12)
    first, second = segment_bounds(blob, 0), segment_bounds(blob, 1)
    swapped = (
        blob[: first[0]]
        + blob[second[0] : second[1]]
        + blob[first[0] : first[1]]
        + blob[second[1] :]
    )
    with pytest.raises(BlobTampered):
        decrypt_bytes(swapped, KEY, CONTEXT)


def test_segment_swapped_in_from_another_blob_is_detected():
    data = bytes(range(256)) * 12
    blob, other = encrypt(data), encrypt(data)
    start, end = segment_bounds(blob, 1)
    mixed = blob[:start] + other[start:end] + blob[end:]
    with pytest.raises(BlobTampered):
        decrypt_bytes(mixed, KEY, CONTEXT)


def test_stream_cut_at_a_segment_boundary_is_truncation():
    blob = encrypt(b"z" * (3 * SEGMENT + 10))
    _start, end = segment_bounds(blob, 1)
    with pytest.raises(BlobTruncated):
        decrypt_bytes(blob[:end], KEY, CONTEXT)


def test_stream_cut_inside_a_segment_fails():
    blob = encrypt(b"z" * (3 * SEGMENT))
    with pytest.raises((BlobTruncated, BlobTampered)):
        decrypt_bytes(blob[: HEADER_SIZE + 100], KEY, CONTEXT)


def test_header_only_is_truncation():
    blob = encrypt(b"z")
    with pytest.raises(BlobTruncated):
        decrypt_bytes(blob[:HEADER_SIZE], KEY, CONTEXT)


def test_foreign_bytes_are_not_a_vault_blob():
    with pytest.raises(NotAVaultBlob):
        decrypt_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, KEY, CONTEXT)


def test_wrong_key_is_tampering_not_garbage():
    with pytest.raises(BlobTampered):
        decrypt_bytes(encrypt(b"secret"), bytes(32), CONTEXT)


def test_encrypting_reader_streams_in_small_reads():
    data = bytes(range(256)) * 40
    reader = EncryptingReader(io.BytesIO(data), KEY, BlobHeader.new(KEY_ID, SEGMENT), CONTEXT)
    chunks = iter(lambda: reader.read(333), b"")
    assert decrypt_bytes(b"".join(chunks), KEY, CONTEXT) == data


def test_data_key_unwraps_only_for_its_owner_and_kek():
    kek, data_key = new_data_key(), new_data_key()
    wrapped = wrap_key(kek, data_key, KEY_ID, "owner-a")
    assert unwrap_key(kek, wrapped, KEY_ID, "owner-a") == data_key
    with pytest.raises(KekWrong):
        unwrap_key(new_data_key(), wrapped, KEY_ID, "owner-a")
    with pytest.raises(KekWrong):
        unwrap_key(kek, wrapped, KEY_ID, "owner-b")


def test_a_failed_stream_keeps_failing_instead_of_ending():
    blob = bytearray(encrypt(bytes(range(256)) * 12))
    start, _end = segment_bounds(blob, 1)
    blob[start + NONCE_SIZE] ^= 1
    stream = io.BytesIO(bytes(blob))
    reader = DecryptingReader(stream, KEY, read_header(stream), CONTEXT)
    assert reader.read(SEGMENT) == (bytes(range(256)) * 12)[:SEGMENT]
    for _attempt in range(2):
        with pytest.raises(BlobTampered):
            reader.read(SEGMENT)


@pytest.mark.parametrize("size", [0, 1, SEGMENT, 3 * SEGMENT, 3 * SEGMENT + 1])
def test_plaintext_size_follows_from_the_ciphertext_size(size):
    assert plaintext_size(len(encrypt(b"p" * size)), SEGMENT) == size
