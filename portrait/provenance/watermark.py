"""Invisible watermark: a render id hidden in the image's luminance.

Payload
    48 bits: a 32-bit render id followed by a 16-bit check (CRC-16/CCITT over the id with a
    domain prefix). Decoding flips up to two of the eight least reliable bits to make the check
    pass, so an unmarked image that got past synchronisation (about 2% do) passes the check with
    odds of 37 in 65536: about one image in 100,000 overall.

Default backend, ``tiled-ss-v1``
    Spread spectrum over a periodic tile. A 128x128-pixel tile is divided into 32x32 cells of
    4x4 pixels. A quarter of the cells carry a fixed pseudo-random pilot; every other cell
    carries one payload bit times a pseudo-random chip, each bit spread over 16 cells scattered
    across the tile. The cell grid is smoothly interpolated (so the mark has no block edges and
    its energy sits below 1/8 cycle per pixel, which survives JPEG and a 2x down- and up-scale),
    repeated over the whole image, weighted by local texture and added to R, G and B alike, so
    only luminance changes. Each bit's amplitude is set knowing the host image, so that the
    image's own content cannot outvote a bit (informed embedding).

    Exactly flat areas (an ID photo's background, or all of one whose person is missing) have
    no texture to hide that mark in, and their colour must stay within 2 levels. They carry the
    same pattern as a one-level step of every channel instead, and the rim around them is held
    to 2 levels. Nothing masks so faint a mark, so a lossless copy (ID photos are PNG) reads it
    clearly even with no texture at all, cropped or not. It is not meant to outlive JPEG (quality
    90 keeps it, 75 erases it on white), so the textured part's gains do not count on it.

    The reader band-passes and whitens the luminance, folds the whole image onto one tile
    (averaging all repetitions) and finds the tile's offset from the pilot's cross-correlation
    peaks, confirmed by the payload's coherence. Because the search covers every offset, a crop
    that removes any number of rows or columns is recovered; the classic DWT-DCT-SVD scheme
    loses its block grid on a crop of a few percent. Scaling without restoring the size,
    rotation and flips are not recovered.

Every layout choice is drawn from SHA-256 of a public key and a label, not from a numpy random
generator, so that a mark embedded today still decodes with any future numpy. The key is public
on purpose: anyone must be able to check a Sitter image.
"""

import binascii
import hashlib
import struct
import uuid
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from PIL import Image

ID_BITS = 32
CHECK_BITS = 16
PAYLOAD_BITS = ID_BITS + CHECK_BITS
_CHECK_PREFIX = b"sitter-wm-v1"

DEFAULT_KEY = b"sitter-watermark-v1"

CELL = 4  # pixels per cell side
TILE_CELLS = 32  # cells per tile side
TILE = CELL * TILE_CELLS
PILOT_FRACTION = 0.25
MIN_SIDE = TILE  # at least one whole tile, or the fold has gaps

# Strength: root-mean-square change of luminance over the image, in 8-bit levels (2.6 gives a
# PSNR near 40 dB), and at most over the pixels that carry the mark, so that an image that is
# mostly flat does not get all of it on its few detailed pixels.
TARGET_RMS = 2.6
MARKED_RMS_MAX = 4.0
# Local contrast (std of luminance over a 7x7 window) at which the mark reaches full weight,
# the weight's floor for any non-flat area and its ceiling; and the luminance range over 3x3
# below which a pixel counts as flat.
TEXTURE_FULL = 6.0
TEXTURE_FLOOR = 0.5
TEXTURE_CEIL = 1.5
FLAT_RANGE = 0.1
# The most a pixel on or next to a flat area may move, in 8-bit levels: an ID photo's background
# must stay within 2 levels of its colour.
FLAT_MAX_CHANGE = 2
# Bounds of the per-bit amplitude that evens out host interference (see _bit_gains).
GAIN_MIN = 0.3
GAIN_MAX = 3.0

# Synchronisation: how many pilot peaks to try, and the evidence (pilot z plus payload
# coherence z, see TiledSpreadSpectrum.read) that accepts one. Measured on 1000 varied unmarked
# images: 2.1% reach 6 and 0.2% reach 7 (the highest was 7.7); marks score about 10 (a small ID
# photo) to 50. Only an accepted reading goes on to the payload check.
SYNC_CANDIDATES = 16
SYNC_SCORE_MIN = 6.0
_HALF_NORMAL_MEAN = float(np.sqrt(2 / np.pi))
_HALF_NORMAL_VAR = 1 - 2 / np.pi

# Error correction: up to two flips among the eight least reliable bits (37 candidates).
CHASE_BITS = 8
CHASE_MAX_FLIPS = 2


@dataclass(frozen=True)
class WatermarkReading:
    """What a backend saw: best-guess bits, their soft values and the synchronisation score."""

    bits: np.ndarray
    soft: np.ndarray
    sync_score: float
    synchronised: bool


@dataclass(frozen=True)
class WatermarkDetection:
    """Result of :func:`detect`: whether a valid Sitter mark was found and which render it names."""

    found: bool
    render_id: int | None
    payload_hex: str | None
    sync_score: float | None


@runtime_checkable
class WatermarkBackend(Protocol):
    """An invisible-watermark method that can carry :data:`PAYLOAD_BITS` bits."""

    name: str

    def embed(self, image: Image.Image, payload_bits: np.ndarray) -> Image.Image:
        """Return a copy of ``image`` (RGB) carrying ``payload_bits``."""
        ...

    def extract(self, image: Image.Image) -> np.ndarray | None:
        """Return the carried bits, or None when no mark of this method is present."""
        ...


@runtime_checkable
class SoftWatermarkBackend(WatermarkBackend, Protocol):
    """A backend that also reports soft bit values, which lets :func:`detect` correct errors."""

    def read(self, image: Image.Image) -> WatermarkReading:
        """Synchronise and return best-guess bits with their reliabilities."""
        ...


def _keystream(key: bytes, label: bytes, n_bytes: int) -> np.ndarray:
    """``n_bytes`` pseudo-random bytes: SHA-256 of key, label and a counter, concatenated."""
    blocks = []
    counter = 0
    while 32 * len(blocks) < n_bytes:
        blocks.append(hashlib.sha256(key + b"/" + label + struct.pack(">I", counter)).digest())
        counter += 1
    return np.frombuffer(b"".join(blocks)[:n_bytes], dtype=np.uint8)


def _signs(key: bytes, label: bytes, count: int) -> np.ndarray:
    bits = np.unpackbits(_keystream(key, label, (count + 7) // 8))[:count]
    return bits.astype(np.float32) * 2.0 - 1.0


def _upsample_periodic(cells: np.ndarray) -> np.ndarray:
    """Interpolate a cell grid to pixels, treating it as periodic so the tile repeats seamlessly."""
    pad = 2
    wrapped = np.pad(cells, pad, mode="wrap")
    big = cv2.resize(
        wrapped,
        (wrapped.shape[1] * CELL, wrapped.shape[0] * CELL),
        interpolation=cv2.INTER_LINEAR,
    )
    return big[pad * CELL : pad * CELL + TILE, pad * CELL : pad * CELL + TILE]


@dataclass(frozen=True)
class _Layout:
    pilot_cells: np.ndarray  # (TILE_CELLS, TILE_CELLS) pilot sign, 0 where data
    data_index: np.ndarray  # flat cell indices of data cells
    data_bit: np.ndarray  # which payload bit each data cell carries
    data_chip: np.ndarray  # that cell's chip sign
    pilot_spectrum: np.ndarray  # FFT of the pilot at pixel resolution, for the offset search


def _make_layout(key: bytes, n_bits: int) -> _Layout:
    n_cells = TILE_CELLS * TILE_CELLS
    # A permutation from 64-bit hash values: stable for ever, unlike a library RNG stream.
    order_keys = _keystream(key, b"order", 8 * n_cells).view(">u8")
    order = np.argsort(order_keys, kind="stable")
    n_pilot = int(n_cells * PILOT_FRACTION)
    pilot_index = order[:n_pilot]
    data_index = order[n_pilot:]
    pilot = np.zeros(n_cells, dtype=np.float32)
    pilot[pilot_index] = _signs(key, b"pilot", n_pilot)
    pilot_cells = pilot.reshape(TILE_CELLS, TILE_CELLS)
    return _Layout(
        pilot_cells=pilot_cells,
        data_index=data_index,
        data_bit=np.arange(len(data_index)) % n_bits,
        data_chip=_signs(key, b"chips", len(data_index)),
        pilot_spectrum=np.fft.rfft2(_upsample_periodic(pilot_cells)),
    )


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)


def _flat(luma: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood is uniform: plain background, where texture hides nothing."""
    square = np.ones((3, 3), np.uint8)
    return cv2.dilate(luma, square) - cv2.erode(luma, square) < FLAT_RANGE


def _texture_weight(luma: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Per-pixel strength of the main mark: more where texture hides it, none on flat pixels."""
    mean = cv2.boxFilter(luma, -1, (7, 7), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(luma * luma, -1, (7, 7), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    weight = np.clip(std / TEXTURE_FULL, TEXTURE_FLOOR, TEXTURE_CEIL)
    # Smooth the weight so that it does not itself draw the texture's edges into the mark.
    weight = cv2.GaussianBlur(weight, (0, 0), 2.0)
    # Flat pixels carry the fainter flat-area mark instead (see TiledSpreadSpectrum.embed).
    weight[flat] = 0.0
    return weight


def _scaled(delta: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Scale a weighted pattern to the target strength (see TARGET_RMS and MARKED_RMS_MAX)."""
    energy = float(np.sum(delta * delta))
    marked = np.count_nonzero(weight)
    scale = min(
        TARGET_RMS * np.sqrt(delta.size / energy), MARKED_RMS_MAX * np.sqrt(marked / energy)
    )
    return delta * np.float32(scale)


def _band_pass(luma: np.ndarray) -> np.ndarray:
    """Keep the band the mark lives in, and whiten it by the local level of host detail.

    The host's low frequencies would drown the mark, and dividing by the local residual level
    keeps textured areas (hair, fabric) from outweighing the smooth ones where the mark is
    clearest.
    """
    residual = cv2.GaussianBlur(luma, (0, 0), 0.7) - cv2.GaussianBlur(luma, (0, 0), 2.5)
    local_power = cv2.boxFilter(residual * residual, -1, (15, 15), borderType=cv2.BORDER_REFLECT)
    return residual / (np.sqrt(np.maximum(local_power, 0.0)) + 1.0)


def _fold(values: np.ndarray) -> np.ndarray:
    """Average every TILE x TILE repetition of ``values`` onto one tile."""
    h, w = values.shape
    ph, pw = -h % TILE, -w % TILE
    padded = np.pad(values, ((0, ph), (0, pw)))
    counts = np.pad(np.ones_like(values), ((0, ph), (0, pw)))
    shape = (padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE)
    total = padded.reshape(shape).sum(axis=(0, 2))
    n = counts.reshape(shape).sum(axis=(0, 2))
    return total / np.maximum(n, 1.0)


def _peaks(correlation: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Offsets of the ``count`` highest local maxima of a circular correlation map."""
    wrapped = np.pad(correlation, 2, mode="wrap")
    local_max = cv2.dilate(wrapped, np.ones((5, 5), np.uint8))[2:-2, 2:-2]
    candidates = np.flatnonzero(correlation >= local_max)
    best = candidates[np.argsort(correlation.reshape(-1)[candidates])[::-1][:count]]
    return [(int(i) // correlation.shape[1], int(i) % correlation.shape[1]) for i in best]


class TiledSpreadSpectrum:
    """Default watermark backend (see the module docstring)."""

    name = "tiled-ss-v1"

    def __init__(self, key: bytes = DEFAULT_KEY, n_bits: int = PAYLOAD_BITS):
        self.n_bits = n_bits
        self._layout = _make_layout(key, n_bits)

    def _pattern_tile(self, bit_amplitudes: np.ndarray) -> np.ndarray:
        """Render one tile: the pilot plus each bit's chips times its signed amplitude."""
        layout = self._layout
        cells = layout.pilot_cells.copy().reshape(-1)
        cells[layout.data_index] = layout.data_chip * bit_amplitudes[layout.data_bit]
        return _upsample_periodic(cells.reshape(TILE_CELLS, TILE_CELLS))

    def _cell_soft(self, aligned: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-bit correlation of a folded, aligned tile with that bit's chips, and coherence.

        Coherence is how far the mean magnitude of those correlations stands above what noise
        alone gives, in standard deviations: noise makes each one normal with a spread of
        ``sqrt(cells per bit * cell variance)``, whose magnitude has mean sqrt(2/pi) and variance
        1 - 2/pi in those units.
        """
        layout = self._layout
        cells = cv2.resize(aligned, (TILE_CELLS, TILE_CELLS), interpolation=cv2.INTER_AREA)
        contributions = cells.reshape(-1)[layout.data_index] * layout.data_chip
        soft = np.bincount(layout.data_bit, weights=contributions, minlength=self.n_bits)
        noise = float(np.sqrt(len(layout.data_index) / self.n_bits * cells.var()))
        if noise == 0:
            return soft, 0.0
        magnitude = float(np.mean(np.abs(soft))) / noise
        return soft, (magnitude - _HALF_NORMAL_MEAN) / np.sqrt(_HALF_NORMAL_VAR / self.n_bits)

    def _soft_in_place(self, luma: np.ndarray) -> np.ndarray:
        # At embedding time the tile sits at the origin: no offset search needed.
        return self._cell_soft(_fold(_band_pass(luma)))[0]

    def _bit_gains(self, luma: np.ndarray, weight: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """Per-bit amplitudes that even out the margins the host image leaves each bit.

        The host correlates a little with every bit's chips, helping some bits and working
        against others; on busy texture that can flip a bit before any attack. Reading the host
        and a unit-amplitude mark tells how much each bit gets from either, and the amplitudes
        are then set so that every bit ends with the same margin for the same total energy
        (informed embedding in the manner of improved spread spectrum).
        """
        host = self._soft_in_place(luma) * symbols
        h, w = luma.shape
        unit = np.tile(self._pattern_tile(symbols), (-(-h // TILE), -(-w // TILE)))[:h, :w]
        mark = self._soft_in_place(luma + _scaled(unit * weight, weight)) * symbols - host
        mark = np.maximum(mark, 0.25 * float(np.median(mark)) + 1e-9)
        # Gains g = (T - host) / mark with mean(g^2) = 1: a quadratic in the common margin T.
        inv2 = 1.0 / (mark * mark)
        qa, qb, qc = inv2.sum(), (host * inv2).sum(), (host * host * inv2).sum() - len(host)
        margin = (qb + np.sqrt(max(qb * qb - qa * qc, 0.0))) / qa
        return np.clip((margin - host) / mark, GAIN_MIN, GAIN_MAX)

    def embed(self, image: Image.Image, payload_bits: np.ndarray) -> Image.Image:
        """Return an RGB copy of ``image`` carrying ``payload_bits`` (``n_bits`` zeros and ones).

        Raises ValueError for a malformed payload or an image under 128 pixels a side.
        """
        payload_bits = np.asarray(payload_bits)
        if payload_bits.shape != (self.n_bits,) or not np.isin(payload_bits, (0, 1)).all():
            raise ValueError(f"payload must be {self.n_bits} bits of 0 or 1")
        rgb = np.asarray(image.convert("RGB"))
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"image too small to watermark: {w}x{h}, need {MIN_SIDE}px a side")
        repeats = (-(-h // TILE), -(-w // TILE))
        luma = _luma(rgb)
        flat = _flat(luma)
        weight = _texture_weight(luma, flat)
        symbols = payload_bits.astype(np.float32) * 2.0 - 1.0
        change = np.zeros((h, w), np.float32)
        if weight.any():
            # The gains ignore the flat-area mark below: JPEG erases it, and the robust part
            # must stand on its own.
            gains = self._bit_gains(luma, weight, symbols)
            tile = self._pattern_tile(symbols * gains)
            change = _scaled(np.tile(tile, repeats)[:h, :w] * weight, weight)
        if flat.any():
            # The rim of a flat area (the first pixels of a person or label next to an ID photo's
            # background) is held to the flat area's bound, so no halo shows around them.
            rim = cv2.dilate(flat.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            np.clip(change, -FLAT_MAX_CHANGE, FLAT_MAX_CHANGE, out=change, where=rim)
            # Flat pixels step one level up or down where the pattern is strongest. A channel at
            # 0 or 255 keeps only the step it has room for, which is still in step with the
            # pattern: no flat pixel moves more than one level.
            steps = np.rint(self._pattern_tile(symbols))
            change += np.tile(steps, repeats)[:h, :w] * flat
        # Same change on R, G and B: luminance moves, hue and saturation do not.
        marked = np.rint(rgb + cv2.merge([change] * 3))
        return Image.fromarray(np.clip(marked, 0, 255).astype(np.uint8), "RGB")

    def read(self, image: Image.Image) -> WatermarkReading:
        """Synchronise and read best-guess bits, whether or not a mark is there.

        The pilot's cross-correlation proposes the tile offsets where it peaks. At each, the
        payload cells are read too, and the offset with the most evidence wins: the pilot peak's
        height plus the payload's coherence, each in standard deviations of what noise gives.
        Busy content such as the label's text can raise a pilot peak of its own, but never a
        coherent payload; and the payload's three quarters of the cells add the evidence that a
        weak pilot (a small ID photo, mostly flat background) lacks.
        """
        rgb = np.asarray(image.convert("RGB"))
        if min(rgb.shape[:2]) < MIN_SIDE:
            empty = np.zeros(self.n_bits, dtype=np.uint8)
            return WatermarkReading(empty, np.zeros(self.n_bits), 0.0, False)
        folded = _fold(_band_pass(_luma(rgb)))
        folded -= folded.mean()
        correlation = np.fft.irfft2(
            np.conj(np.fft.rfft2(folded)) * self._layout.pilot_spectrum, s=folded.shape
        ).astype(np.float32)
        pilot_z = (correlation - correlation.mean()) / (float(correlation.std()) or 1.0)
        best_soft, best_score = np.zeros(self.n_bits), float("-inf")
        for offset in _peaks(correlation, SYNC_CANDIDATES):
            # Undo the crop's offset so that the tile lines up with the embedding grid.
            soft, coherence_z = self._cell_soft(np.roll(folded, shift=offset, axis=(0, 1)))
            score = float(pilot_z[offset]) + coherence_z
            if score > best_score:
                best_soft, best_score = soft, score
        bits = (best_soft > 0).astype(np.uint8)
        return WatermarkReading(bits, best_soft, best_score, best_score >= SYNC_SCORE_MIN)

    def extract(self, image: Image.Image) -> np.ndarray | None:
        """Return the carried bits, or None when no mark synchronises."""
        reading = self.read(image)
        return reading.bits if reading.synchronised else None


DEFAULT_BACKEND = TiledSpreadSpectrum()


def _check(render_id: int) -> int:
    return binascii.crc_hqx(_CHECK_PREFIX + render_id.to_bytes(4, "big"), 0xFFFF)


def watermark_id_for(render: int | uuid.UUID) -> int:
    """The 32-bit watermark id of a render: the integer itself, or a UUID's first 32 bits.

    The Django side stores this id with the output and must keep it unique among outputs.
    """
    value = render.int >> 96 if isinstance(render, uuid.UUID) else int(render)
    if not 0 <= value < 1 << ID_BITS:
        raise ValueError(f"watermark id must fit in {ID_BITS} bits")
    return value


def payload_for_render(render: int | uuid.UUID) -> np.ndarray:
    """The 48 payload bits (id, then check) that identify ``render``."""
    render_id = watermark_id_for(render)
    word = (render_id << CHECK_BITS) | _check(render_id)
    return np.array(
        [(word >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.uint8
    )


def payload_hex(payload_bits: np.ndarray) -> str:
    """Hex spelling of a payload (12 digits), as stored in the C2PA soft-binding assertion."""
    return np.packbits(np.asarray(payload_bits, dtype=np.uint8)).tobytes().hex()


def render_id_from_payload(payload_bits: np.ndarray) -> int | None:
    """The render id a payload names, or None when its check does not match."""
    payload_bits = np.asarray(payload_bits, dtype=np.uint8)
    if payload_bits.shape != (PAYLOAD_BITS,):
        return None
    word = int.from_bytes(np.packbits(payload_bits).tobytes(), "big")
    render_id, check = word >> CHECK_BITS, word & ((1 << CHECK_BITS) - 1)
    return render_id if _check(render_id) == check else None


def _correct(bits: np.ndarray, soft: np.ndarray) -> np.ndarray | None:
    """Chase decoding: try flipping the least reliable bits until the check passes.

    Flips are tried in order of how little they cost (sum of the flipped soft magnitudes), so the
    first payload that passes is the most likely one. Each extra candidate adds 2^-16 to the
    false-positive odds of an image that already passed synchronisation.
    """
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    flips = [()] + [
        combo for n in range(1, CHASE_MAX_FLIPS + 1) for combo in combinations(weakest, n)
    ]
    flips.sort(key=lambda combo: float(np.abs(soft[list(combo)]).sum()))
    for combo in flips:
        trial = bits.copy()
        trial[list(combo)] ^= 1
        if render_id_from_payload(trial) is not None:
            return trial
    return None


def detect(image: Image.Image, backend: WatermarkBackend = DEFAULT_BACKEND) -> WatermarkDetection:
    """Look for a Sitter watermark and return the render id it names, if any."""
    if isinstance(backend, SoftWatermarkBackend):
        reading = backend.read(image)
        score = reading.sync_score
        bits = _correct(reading.bits, reading.soft) if reading.synchronised else None
    else:
        score = None
        bits = backend.extract(image)
        if bits is not None and render_id_from_payload(bits) is None:
            bits = None
    if bits is None:
        return WatermarkDetection(False, None, None, score)
    return WatermarkDetection(True, render_id_from_payload(bits), payload_hex(bits), score)
