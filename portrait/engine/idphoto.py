"""ID photos to official specifications: exact canvas, head size, eye line and background.

`make_id_photo` levels the eyes, scales and places the head so that its height (chin to crown,
hair included) and the eye line fall inside the spec's ranges, and replaces the background with
the exact colour. The person is separated with OpenCV's GrabCut, seeded from the landmarks:
face definitely foreground, head, neck and shoulders probably foreground, the free border
definitely background. The crown (top of the hair) is read from that mask, so big hair counts
as the specs say it must; the 68-point landmarks give the chin and the eyes.

Background pixels are exactly the chosen colour: the mask's soft edge is feathered only inward,
so nothing outside the person is blended. PNG keeps that exactly; the JPEG version (q95, no
chroma subsampling) is within a couple of levels in flat areas and may ring next to edges, so
use the PNG wherever the colour is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from portrait.engine.faces import PhotoAnalysis, analyse_photo, face_landmarks_68
from portrait.engine.images import Reason, encode_clean, warp_affine

__all__ = ["BACKGROUNDS", "ID_SPECS", "IdPhotoResult", "IdPhotoSpec", "make_id_photo"]


@dataclass(frozen=True)
class IdPhotoSpec:
    """An ID photo format. Fractions are of the photo's height.

    ``head_height``: chin to crown, hair included. ``eye_line``: height of the line through the
    eye centres above the BOTTOM edge, as the ICAO and US rules measure it. ``crown_margin``:
    gap between the top edge and the crown.
    """

    title: str
    width_px: int
    height_px: int
    dpi: int
    head_height: tuple[float, float]
    eye_line: tuple[float, float]
    crown_margin: tuple[float, float]


# Sources: REFERENCES.md ("ID photo specifications"); the US Department of State photo rules;
# ISO/IEC 19794-5 (eyes 50-70% of the height above the bottom), which ICAO 9303 documents such
# as Schengen visas and the Chinese passport follow; the Chinese exit-entry photo guide
# (33x48 mm, head 28-33 mm, crown 3-5 mm below the top edge); GA 461-2004 for the resident ID
# card (358x441 px at 350 dpi, head about 2/3 of the height, crown 7-21 px below the top edge,
# eyes at least 207 px above the bottom). The 1- and 2-inch sizes have no official layout:
# studios follow the resident-ID proportions, so they get its head range with a roomier top.
# Where a rule is silent (the crown margin of the US and Schengen photos, the upper eye bound
# of the ID card) the range is ours: loose, but always at least 3% of air above the hair.
ID_SPECS: dict[str, IdPhotoSpec] = {
    "cn_1inch": IdPhotoSpec(
        "China 1-inch (25×35 mm)", 295, 413, 300, (0.60, 0.72), (0.50, 0.70), (0.03, 0.10)
    ),
    "cn_2inch": IdPhotoSpec(
        "China 2-inch (35×49 mm)", 413, 579, 300, (0.60, 0.72), (0.50, 0.70), (0.03, 0.10)
    ),
    "cn_resident_id": IdPhotoSpec(
        "China resident ID card (26×32 mm)",
        358,
        441,
        350,
        (0.60, 0.72),
        (207 / 441, 0.72),
        (7 / 441, 21 / 441),
    ),
    "cn_passport": IdPhotoSpec(
        "China passport / travel document (33×48 mm)",
        390,
        567,
        300,
        (28 / 48, 33 / 48),
        (0.50, 0.70),
        (3 / 48, 5 / 48),
    ),
    "us_passport": IdPhotoSpec(
        "US passport / visa (2×2 in)",
        600,
        600,
        300,
        (1 / 2, 1.375 / 2),
        (1.125 / 2, 1.375 / 2),
        (0.03, 0.20),
    ),
    "schengen": IdPhotoSpec(
        "Schengen visa / ICAO (35×45 mm)",
        413,
        531,
        300,
        (32 / 45, 36 / 45),
        (0.50, 0.70),
        (0.03, 0.15),
    ),
}

# White for most documents; blue is the "ID blue" of Chinese studios (#438EDB); red is the
# pure red several Chinese certificates ask for. Exact values, written pixel-for-pixel.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "blue": (67, 142, 219),
    "red": (255, 0, 0),
}


@dataclass(frozen=True)
class IdPhotoResult:
    """The finished photo; `png` is exact, `jpeg` near-exact, both carry the spec's DPI.

    `head_height_fraction` and `eye_line_fraction` are where the layout put the head (same
    conventions as `IdPhotoSpec`); `warnings` says what a person should check.
    """

    image: Image.Image
    png: bytes
    jpeg: bytes
    dpi: int
    head_height_fraction: float
    eye_line_fraction: float
    warnings: tuple[Reason, ...]


# Eye-to-crown distance over eye-to-chin distance when the mask cannot tell (no face, or the
# mask's top is implausible). The skull alone gives ~0.95 (eyes sit near the middle of the
# head); the masks of the known photos, hair included, give 0.92 (obama_4) to 1.2
# (rose_leslie_2).
_CROWN_OVER_CHIN = 1.1
_MASK_LONG_SIDE = 320  # GrabCut runs on the head-and-shoulders region shrunk to this
_GRABCUT_ITERATIONS = 3
_FEATHER_PX = 1.5  # inward soft edge of the person at the output size


def make_id_photo(
    image: Image.Image,
    spec: str,
    background: str,
    face: PhotoAnalysis | None = None,
) -> IdPhotoResult:
    """Frame `image` as an ID photo of `spec` (a key of ID_SPECS) on `background`.

    `face` is the analysis of this same image if the caller has it; otherwise it is computed.
    Without a face (a render of an untrained model), the centre of the image is framed as if
    a head were there and a ``no_face`` warning says so: size, DPI and background are still
    exact. Other warnings: ``several_faces`` (the largest was used), ``framed_too_tight`` (the
    photo ends above the canvas's bottom corners), ``low_resolution`` (the face was enlarged
    more than 1.6x), ``id_layout_off_spec`` (no placement meets every range of the spec).
    Raises ValueError for an unknown spec or background.
    """
    if spec not in ID_SPECS:
        raise ValueError(f"unknown ID photo spec {spec!r}: one of {', '.join(ID_SPECS)}")
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}: one of {', '.join(BACKGROUNDS)}")
    layout_spec = ID_SPECS[spec]
    colour = BACKGROUNDS[background]
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if face is None:
        face = analyse_photo(rgb)
    warnings: list[Reason] = []
    if face.faces > 1:
        warnings.append(Reason("several_faces", {"count": face.faces}))

    if face.box is None:
        warnings.append(Reason("no_face"))
        head = _assumed_head(rgb.size, layout_spec)
    else:
        head = _head_from_landmarks(face_landmarks_68(rgb, face.box))
    mask, mask_from_source = _person_mask(rgb, head)
    crown = _crown_from_mask(mask, mask_from_source, head)
    if crown is not None:
        head = head.with_crown(crown)

    placement = _place(head, layout_spec)
    if not placement.within_spec:
        warnings.append(Reason("id_layout_off_spec", {"spec": spec}))
    size = (layout_spec.width_px, layout_spec.height_px)
    canvas = warp_affine(rgb, placement.to_source, size, border="replicate")
    to_mask = mask_from_source @ np.vstack([placement.to_source, [0, 0, 1]])
    person = warp_affine(mask, to_mask, size, border="constant") >= 0.5
    if not _covers(rgb.size, placement.to_source, size):
        warnings.append(Reason("framed_too_tight"))
    if placement.upscale > 1.6:
        warnings.append(Reason("low_resolution"))

    composed = _composite(canvas, person, colour)
    picture = Image.fromarray(composed)
    return IdPhotoResult(
        image=picture,
        png=encode_clean(picture, "PNG", dpi=layout_spec.dpi),
        jpeg=encode_clean(picture, "JPEG", quality=95, dpi=layout_spec.dpi),
        dpi=layout_spec.dpi,
        head_height_fraction=placement.head_height,
        eye_line_fraction=placement.eye_line,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class _Head:
    """Head geometry in source pixels: eye midpoint, unit "down" axis, distances along it."""

    eyes: np.ndarray  # midpoint between the eye centres (x, y)
    down: np.ndarray  # unit vector from the eyes towards the chin, perpendicular to the eyes
    to_chin: float
    to_crown: float
    face_outline: np.ndarray | None  # jaw and brow landmarks, for the definite-foreground seed

    @property
    def height(self) -> float:
        return self.to_chin + self.to_crown

    def with_crown(self, to_crown: float) -> _Head:
        return _Head(self.eyes, self.down, self.to_chin, to_crown, self.face_outline)

    def point(self, across: float, along: float) -> np.ndarray:
        """The source point `along` px down from the eyes and `across` px to the image right."""
        right = np.array([-self.down[1], self.down[0]])
        return self.eyes + across * right + along * self.down


def _head_from_landmarks(points: np.ndarray) -> _Head:
    eye_a, eye_b = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    across = (eye_b - eye_a) / np.linalg.norm(eye_b - eye_a)
    down = np.array([-across[1], across[0]])
    eyes = (eye_a + eye_b) / 2
    to_chin = float(np.dot(points[8] - eyes, down))
    outline = np.concatenate([points[0:17], points[26:16:-1]])
    return _Head(eyes, down, to_chin, _CROWN_OVER_CHIN * to_chin, outline)


def _assumed_head(size: tuple[int, int], spec: IdPhotoSpec) -> _Head:
    """A head where the spec would put one on the centre crop of the image (no face found)."""
    width, height = size
    crop_h = min(height, width * spec.height_px / spec.width_px)
    head_h = crop_h * sum(spec.head_height) / 2
    to_chin = head_h / (1 + _CROWN_OVER_CHIN)
    eye_from_top = 1 - sum(spec.eye_line) / 2
    eyes = np.array([width / 2, (height - crop_h) / 2 + eye_from_top * crop_h])
    return _Head(eyes, np.array([0.0, 1.0]), to_chin, head_h - to_chin, None)


def _person_mask(image: Image.Image, head: _Head) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut the person around `head`.

    Returns a float mask (1 = person) of the head-and-shoulders region, shrunk for speed, and
    the 2x3 map from source pixels to mask pixels. Seeds are drawn in units of the eye-to-chin
    distance c: outside a generous head-and-torso envelope is certainly background (so the
    photo's border always ends up the exact colour); the skull up to 0.85 c above the eyes, the
    face inside its jaw line, the neck and the middle of the chest are certainly the person;
    the rest of the head and shoulders probably.
    """
    c = head.to_chin
    corners = np.array([head.point(x * c, y * c) for x in (-2.0, 2.0) for y in (-2.1, 3.0)])
    width, height = image.size
    left, top = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    right = min(width, int(np.ceil(corners[:, 0].max())))
    bottom = min(height, int(np.ceil(corners[:, 1].max())))
    if right - left < 8 or bottom - top < 8:
        left, top, right, bottom = 0, 0, width, height
    scale = min(1.0, _MASK_LONG_SIDE / max(right - left, bottom - top))
    from_source = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])
    size = (max(8, round((right - left) * scale)), max(8, round((bottom - top) * scale)))
    region = cv2.resize(
        np.asarray(image.crop((left, top, right, bottom))), size, interpolation=cv2.INTER_AREA
    )

    def shape(points: np.ndarray) -> np.ndarray:
        """Head-frame points (across, along) in units of c -> an int polygon in mask pixels."""
        source = np.array([head.point(x * c, y * c) for x, y in points])
        return np.round(source @ from_source[:, :2].T + from_source[:, 2]).astype(np.int32)

    def oval(centre: tuple[float, float], axes: tuple[float, float], arc=(0, 360)) -> np.ndarray:
        points = cv2.ellipse2Poly((0, 0), (1000, 1000), 0, arc[0], arc[1], 10) / 1000
        return shape(points * axes + centre)

    def torso(neck: float, shoulders: float, top: float = 0.7) -> np.ndarray:
        half = [(neck, top), (neck + 0.15, 1.35), (shoulders, 1.9), (shoulders, 6.0)]
        return shape(np.concatenate([half, np.array(half[::-1]) * (-1, 1)]))

    seeds = np.full((size[1], size[0]), cv2.GC_BGD, np.uint8)
    # One polygon per call: fillPoly fills overlaps of polygons given together even-odd.
    for polygon in (oval((0, -0.4), (1.3, 1.65)), torso(0.5, 2.6)):
        cv2.fillPoly(seeds, [polygon], cv2.GC_PR_BGD)
    for polygon in (oval((0, -0.1), (0.8, 1.15)), torso(0.4, 2.2)):
        cv2.fillPoly(seeds, [polygon], cv2.GC_PR_FGD)
    if head.face_outline is not None:
        jaw = head.eyes + 0.85 * (head.face_outline - head.eyes)
        jaw_in_mask = np.round(jaw * scale + from_source[:, 2]).astype(np.int32)
        cv2.fillPoly(seeds, [jaw_in_mask], cv2.GC_FGD)
        cv2.fillPoly(seeds, [oval((0, 0), (0.5, 0.85), (180, 360))], cv2.GC_FGD)
        # Neck and the middle of the chest: a dark suit before a dark wall fools the colour
        # models, and an ID photo without shoulders is worse than one with a rough edge.
        cv2.fillPoly(seeds, [torso(0.25, 1.0, top=1.05)], cv2.GC_FGD)

    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        np.ascontiguousarray(region),
        seeds,
        None,
        background_model,
        foreground_model,
        _GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_MASK,
    )
    person = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.uint8)
    eyes = from_source[:, :2] @ head.eyes + from_source[:, 2]
    person = _largest_component(person, eyes)
    # Close pinholes in clothing and hair without bridging gaps wider than a few pixels.
    person = cv2.morphologyEx(person, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return person.astype(np.float32), from_source


def _largest_component(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count <= 1:
        return mask
    x = min(max(0, round(seed[0])), mask.shape[1] - 1)
    y = min(max(0, round(seed[1])), mask.shape[0] - 1)
    label = labels[y, x]
    if label == 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        label = int(sizes.argmax())
    return (labels == label).astype(np.uint8)


def _crown_from_mask(mask: np.ndarray, from_source: np.ndarray, head: _Head) -> float | None:
    """Eye-to-crown distance read from the mask's top over the head, or None if implausible."""
    scale = from_source[0, 0]
    rows, columns = mask.shape
    best = None
    for across in np.linspace(-0.15, 0.15, 7) * head.height:
        for along in np.arange(0, 2.5 * head.to_chin, 1 / scale):
            x, y = from_source[:, :2] @ head.point(across, -along) + from_source[:, 2]
            column, row = round(x), round(y)
            if not (0 <= row < rows and 0 <= column < columns) or mask[row, column] < 0.5:
                best = along if best is None else max(best, along)
                break
    if best is None:
        return None
    ratio = best / head.to_chin
    # A hat, a background of the same colour as the hair, or a face mask all give tops that
    # make no sense for a head: 0.85-1.9 eye-to-chin distances covers bald to big hair.
    return best if 0.85 <= ratio <= 1.9 else None


@dataclass(frozen=True)
class _Placement:
    to_source: np.ndarray  # 2x3: output pixel -> source pixel
    head_height: float
    eye_line: float
    within_spec: bool
    upscale: float


def _place(head: _Head, spec: IdPhotoSpec) -> _Placement:
    """Scale and position the head so every range of the spec holds, if any layout can."""
    height = spec.height_px
    crown_share = head.to_crown / head.height  # where the eyes sit within the head
    low, high = spec.head_height
    middle = (low + high) / 2
    # Prefer the middle of the head range, then sizes farther out, both ways.
    candidates = sorted(np.linspace(low, high, 21), key=lambda f: abs(f - middle))
    chosen = None
    for fraction in candidates:
        interval = _crown_interval(fraction, crown_share, spec)
        if interval is not None:
            chosen = (fraction, interval)
            break
    eye_from_top = 1 - sum(spec.eye_line) / 2  # the middle of the eye-line range
    within = chosen is not None
    if chosen is None:
        # No layout satisfies everything: keep the head size and the eye line, which GA 461
        # also says to favour, and let the crown margin give.
        crown_at = eye_from_top - crown_share * middle
        chosen = (middle, (crown_at, crown_at))
    fraction, (crown_low, crown_high) = chosen
    crown_at = min(max(eye_from_top - crown_share * fraction, crown_low), crown_high)

    scale = fraction * height / head.height  # output px per source px
    eye_row = (crown_at + crown_share * fraction) * height
    right = np.array([-head.down[1], head.down[0]])
    to_source = np.empty((2, 3))
    to_source[:, 0] = right / scale
    to_source[:, 1] = head.down / scale
    to_source[:, 2] = head.eyes - to_source[:, :2] @ [spec.width_px / 2, eye_row]
    return _Placement(
        to_source=to_source,
        head_height=fraction,
        eye_line=1 - eye_row / height,
        within_spec=within,
        upscale=scale,
    )


def _crown_interval(
    fraction: float, crown_share: float, spec: IdPhotoSpec
) -> tuple[float, float] | None:
    """Crown positions (fraction from the top) meeting the crown-margin and eye-line ranges."""
    eye_low, eye_high = spec.eye_line
    low = max(spec.crown_margin[0], 1 - eye_high - crown_share * fraction)
    high = min(spec.crown_margin[1], 1 - eye_low - crown_share * fraction, 1 - fraction)
    return (low, high) if low <= high else None


def _covers(size: tuple[int, int], to_source: np.ndarray, canvas: tuple[int, int]) -> bool:
    """Whether the source reaches the bottom corners of the canvas (shoulders not cut off)."""
    width, height = size
    for corner in ((0, canvas[1]), (canvas[0], canvas[1])):
        x, y = to_source @ [corner[0], corner[1], 1]
        if not (-1 <= x <= width + 1 and -1 <= y <= height + 1):
            return False
    return True


def _composite(canvas: np.ndarray, person: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Paint everything outside `person` exactly `colour`; blend only just inside the edge."""
    inside = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 3)
    alpha = np.clip(inside / _FEATHER_PX, 0.0, 1.0)[..., None]
    blended = alpha * canvas.astype(np.float32) + (1 - alpha) * np.array(colour, np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
