"""Face analysis: is this a usable photo of one person, and are these photos all that person?

`analyse_photo` checks one decoded upload (one clear, large, sharp, well-exposed, roughly
frontal face, not cut off by the frame) and computes its dlib 128-d face descriptor;
`analyse_set` checks that the accepted photos show one person, names outliers and re-uploads,
and gives the reference descriptor that the verification selfie and the rendered portraits are
compared against. `likeness` scores a rendered candidate against that reference.

Everything runs on dlib (HOG detector, 5- and 68-point shape predictors, ResNet descriptor) with
the models shipped in the `face_recognition_models` package, loaded once per process. Nothing is
written anywhere; results are plain dataclasses and numpy arrays.

Descriptor distances are Euclidean, as dlib defines them. Measured on the photos in
shared/faces/known (faces scaled as here: detection on a copy at most 800 px long):

    same picture at another size or re-encoded     0.03 - 0.09
    same picture cropped, rotated 5°, recoloured   0.03 - 0.08  (mirrored 0.14, greyscale 0.20)
    distinct photos of the same person             0.32 - 0.52
    different people                               0.70 - 1.03

(`python -m bench.faces --distances` prints the full table.) The thresholds in
`FaceThresholds` are chosen from those gaps; each says why.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import dlib
import numpy as np
from PIL import Image

from portrait.engine.images import Reason, warp_affine

__all__ = [
    "Box",
    "FaceModelsMissing",
    "FaceQuality",
    "FaceSignature",
    "FaceThresholds",
    "PhotoAnalysis",
    "SelfieMatch",
    "SetReport",
    "analyse_photo",
    "analyse_set",
    "compare",
    "face_descriptor",
    "face_landmarks_68",
    "likeness",
    "rank_by_likeness",
]

# Detection, landmarks and the descriptor run on a copy whose long side is at most this. The HOG
# detector costs ~3x more at 1024 than at 512. At 800 it finds the same faces in the known
# photos as at 1024 (where the child in the background of group_obama_biden adds a weak
# detection, score 0.23, not counted as a face), and descriptors move 0-0.08 against 1024:
# within the spread of one picture at different sizes.
WORK_LONG_SIDE = 800
# Training crops: dlib's chip padding is in units of the inner-face width on each side; 0.9 gives
# a head-and-shoulders-top portrait (hair, ears, neck) rather than the tight recognition chip.
CROP_PADDING = 0.9
_DESCRIPTOR_CHIP = 150  # what dlib's ResNet was trained on (its own default)
_DESCRIPTOR_PADDING = 0.25


@dataclass(frozen=True)
class FaceThresholds:
    """The limits a photo and a photo set must meet. Defaults are justified one by one."""

    # Box width in the ORIGINAL image's pixels (dlib's box spans brows to chin). The 512 px
    # training crop (CROP_PADDING 0.9) spans 2.55 box widths, so it gives the face 200 px: a
    # box under 100 px means upscaling more than 2x, visibly soft. The smallest single faces
    # here are 104-130 px (obama_6_small, obama_5_480p, kit_harington_1) and pass; the
    # astronaut of skimage.data (88 px in 512x512) does not. Faces under ~70 px at the working
    # size (about 1/20 of a large photo's long side) are not found at all: "no_face".
    min_face_px: float = 100.0
    # A second face counts when its box area is at least this share of the largest one's:
    # FaceChain's rule (reject when the largest face is < 4x the second). A face a quarter the
    # area is half the width: a real second person, not a poster or a distant passer-by.
    secondary_face_area_ratio: float = 0.25
    # ... and when the HOG detector is sure of it. Every real face in the known photos scores
    # 0.89-2.6 at the working size; the detector's false hits score below 0.3 (-0.4 to -0.2 on
    # obama_1/obama_2, up to 0.26 on the round mission patch of skimage's astronaut, a box
    # LARGER than her face) and must neither make "two faces" nor be taken for the face. The
    # main face is the largest confident detection, or the best one if none is confident.
    confident_face_score: float = 0.5
    # Blur, as the energy of the Laplacian over the energy of the gradient on the inner part of
    # the 150 px aligned face. Edges blurred by sigma give gradients ~1/sigma and Laplacians
    # ~1/sigma^2, so the ratio falls with blur whatever the contrast, exposure or skin tone.
    # The known photos measure 0.70-4.6; a Gaussian blur of 1% of the face width (barely
    # visible at full size) brings every one to 0.24-0.45, 2% to 0.10-0.34.
    min_sharpness: float = 0.55
    # Exposure. Skin tones differ too much for a bound on mean luma to be fair (properly exposed
    # very dark skin sits near 40, very fair skin near 230), so the checks look at what
    # exposure destroys whatever the skin: the face's highlights (99th percentile: eye whites,
    # skin sheen; 137-243 on the known photos, 69-121 at half the light, 34-60 at a quarter)
    # and the share of the inner face clipped to black (luma <= 8) or to white (>= 247;
    # 0.00 on every known photo, 0.14-0.51 at 1.6x the light for all but the darkest).
    min_highlight: float = 80.0
    max_dark_fraction: float = 0.25
    max_bright_fraction: float = 0.25
    # Head turn estimated from the 5 landmarks. The known photos include three-quarter views
    # up to ~39 degrees (obama_2, kit_harington_2), good training material; the HOG detector
    # itself rarely finds faces turned past ~45, so this catches the near-profiles it does.
    max_yaw_degrees: float = 45.0
    # Share of the face box outside the frame. Every known photo but one measures 0; the
    # exception, obama_partial_face (0.23), has lost a cheek and an eye corner. A brow or chin
    # just grazing the edge is tolerated.
    max_cut_off_fraction: float = 0.05
    # Drawings: the HOG detector finds a face in a drawn one (head, eyes, nose, mouth), and
    # its descriptor is then compared as if it were a person. Drawn fills are flat, while a
    # photo's skin has texture and sensor noise: the share of the inner face where the
    # Laplacian is exactly zero measures 0.02-0.10 on the known photos, 0.12-0.27 after JPEG at
    # quality 5, posterising to 8 colours, a strong blur or a quarter of the light, and
    # 0.58-0.77 on a drawn face, as a PNG, a JPEG at quality 30 or blurred.
    max_flat_fraction: float = 0.4
    # Identity. Distinct photos of one person measure 0.32-0.52 apart, different people
    # >= 0.70; 0.6 is dlib's own threshold (99.38% on LFW) and sits in that gap. It picks the
    # medoid's neighbours and is then applied to each photo's distance to the consensus (their
    # mean), which is smaller for everyone: obama_1-4 measure 0.20-0.26 to their own mean,
    # the nearest stranger 0.69.
    max_same_person_distance: float = 0.6
    # The selfie is compared with the consensus of the set. Leave-one-out on the known photos:
    # each of obama_1-4 to the mean of the other three 0.26-0.35, anyone else >= 0.69. Stricter
    # than 0.6 because a false match means cloning a stranger, while a false refusal only asks
    # for a better-lit selfie. (Against a single photo, same-person distances reach 0.52.)
    selfie_match_distance: float = 0.5
    # Re-uploads, by descriptor: the same picture at another size, re-encoded, cropped, rotated
    # 5 degrees or recoloured measures 0.03-0.09 from the original; distinct photos of one
    # person >= 0.32. A mirrored copy measures ~0.14 and greyscale ~0.2, hence also ...
    near_duplicate_distance: float = 0.12
    # ... a 64-bit DCT hash of the aligned face, compared with the other photo's and with its
    # mirror image's: the same picture resized or re-encoded 0-4 bits apart, mirrored 2-10,
    # edited as above 0-8; distinct photos of one person 16 or more, different people 14.
    near_duplicate_hash_bits: int = 10


@dataclass(frozen=True)
class Box:
    """An axis-aligned face box in the analysed image's pixels (may extend past its edges)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, factor: float) -> Box:
        return Box(*(v * factor for v in (self.left, self.top, self.right, self.bottom)))


@dataclass(frozen=True)
class FaceQuality:
    """Measurements of the main face; `FaceThresholds` says which values pass."""

    face_px: float  # box width in the original image's pixels
    face_fraction: float  # box width / the image's shorter side
    sharpness: float  # Laplacian energy over gradient energy on the aligned inner face
    brightness: float  # mean luma of the inner face, 0-255 (reported, not judged)
    highlight: float  # 99th percentile of inner-face luma
    dark_fraction: float  # share of inner-face pixels at luma <= 8
    bright_fraction: float  # share of inner-face pixels at luma >= 247
    yaw_degrees: float  # estimated head turn, positive towards the image's right
    cut_off_fraction: float  # share of the face box outside the frame
    flat_fraction: float  # share of the inner face with no texture at all (drawn fills)


@dataclass(frozen=True, eq=False)
class FaceSignature:
    """What the set checks need of an accepted photo, kept (encrypted) after its analysis:
    the descriptor and the perceptual hashes of the aligned face and of its mirror image."""

    descriptor: np.ndarray
    fingerprint: int
    mirrored_fingerprint: int

    _HASHES = struct.Struct(">QQ")

    def to_bytes(self) -> bytes:
        return np.asarray(self.descriptor, np.float32).tobytes() + self._HASHES.pack(
            self.fingerprint, self.mirrored_fingerprint
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FaceSignature:
        split = len(data) - cls._HASHES.size
        fingerprint, mirrored = cls._HASHES.unpack(data[split:])
        return cls(np.frombuffer(data[:split], np.float32), fingerprint, mirrored)

    def is_near_duplicate(self, other: FaceSignature, limits: FaceThresholds) -> bool:
        """The same picture again: resized, re-encoded, cropped, recoloured or mirrored."""
        if compare(self.descriptor, other.descriptor) <= limits.near_duplicate_distance:
            return True
        bits = min(
            (self.fingerprint ^ other.fingerprint).bit_count(),
            (self.fingerprint ^ other.mirrored_fingerprint).bit_count(),
        )
        return bits <= limits.near_duplicate_hash_bits


@dataclass(frozen=True, eq=False)
class PhotoAnalysis:
    """What `analyse_photo` found in one image.

    ``faces`` counts significant faces; ``boxes`` lists every detection, the main face (the
    largest confident one) first, and ``box``/``landmarks``/``quality`` describe the main face
    (``box`` and ``landmarks`` even when there are several). ``landmarks`` are dlib's 5 points
    (x, y) in original pixels: two corners of the eye on the image's right, two of the other
    eye, then the base of the nose. ``descriptor`` (128 float32) and ``fingerprint`` (a 64-bit
    perceptual hash of the aligned face; ``mirrored_fingerprint`` of its mirror image) are
    present when exactly one face was found.
    """

    faces: int
    boxes: tuple[Box, ...]
    box: Box | None
    landmarks: np.ndarray | None
    descriptor: np.ndarray | None
    fingerprint: int | None
    mirrored_fingerprint: int | None
    quality: FaceQuality | None
    reasons: tuple[Reason, ...]
    image_size: tuple[int, int]
    _image: Image.Image | np.ndarray = field(repr=False)

    @property
    def accepted(self) -> bool:
        return self.faces == 1 and not self.reasons

    @property
    def signature(self) -> FaceSignature | None:
        if self.descriptor is None or self.fingerprint is None:
            return None
        return FaceSignature(self.descriptor, self.fingerprint, self.mirrored_fingerprint)

    def crop(self, size: int = 512, padding: float = CROP_PADDING) -> Image.Image:
        """An aligned, face-centred `size`-square portrait crop from the full-resolution image.

        Eyes level and the face centred as dlib aligns faces, with `padding` face-widths on
        each side so that hair, ears and neck are in. Where the crop reaches past the photo the
        border is mirrored (as FFHQ's alignment does) rather than filled with black, which a
        model would learn. Raises ValueError when no face was found.
        """
        if self.landmarks is None:
            raise ValueError("no face to crop")
        details = dlib.get_face_chip_details(_shape_from_points(self.landmarks), size, padding)
        return Image.fromarray(_warp_chip(self._image, details))


@dataclass(frozen=True)
class SelfieMatch:
    """Whether the verification selfie shows the person in the set; `distance` to the reference."""

    matched: bool
    distance: float

    @property
    def reason(self) -> Reason | None:
        return None if self.matched else Reason("selfie_mismatch")


@dataclass(frozen=True, eq=False)
class SetReport:
    """Whether a set of analysed photos is one person, and which photos to train on.

    Indices are 0-based positions in the list given to `analyse_set`; the `of` param of a
    ``near_duplicate`` reason is the 1-based number a person sees ("same photo as #3").

    ``usable`` are the accepted, non-duplicate photos that agree with the consensus, in order.
    ``outliers`` are accepted photos of somebody else; ``duplicates`` pairs (earlier, later)
    photos that are the same picture, the later one refused. ``distances`` gives each photo's
    distance to ``reference_descriptor`` (None without a descriptor). ``same_person`` is True
    when at least one photo is usable and no accepted photo is an outlier.

    ``reference_descriptor`` is the plain mean of the usable photos' descriptors, NOT
    normalised: dlib's descriptors are compared by Euclidean distance and are not unit vectors
    (norms 1.2-1.4 here), and their mean is the natural centre to measure other faces from.
    """

    reasons: tuple[tuple[Reason, ...], ...]
    usable: tuple[int, ...]
    outliers: tuple[int, ...]
    duplicates: tuple[tuple[int, int], ...]
    distances: tuple[float | None, ...]
    same_person: bool
    reference_descriptor: np.ndarray | None
    thresholds: FaceThresholds

    def selfie_match(self, selfie_descriptor: np.ndarray) -> SelfieMatch:
        """Compare the verification selfie's descriptor with the set's reference."""
        if self.reference_descriptor is None:
            return SelfieMatch(matched=False, distance=math.inf)
        distance = compare(selfie_descriptor, self.reference_descriptor)
        return SelfieMatch(distance <= self.thresholds.selfie_match_distance, distance)


class FaceModelsMissing(RuntimeError):
    """The dlib model files could not be found."""


def compare(descriptor_a: np.ndarray, descriptor_b: np.ndarray) -> float:
    """Euclidean distance between two face descriptors (dlib's measure; < 0.6: same person)."""
    return float(np.linalg.norm(np.asarray(descriptor_a, np.float64) - descriptor_b))


def analyse_photo(
    image: Image.Image | np.ndarray, thresholds: FaceThresholds = FaceThresholds()
) -> PhotoAnalysis:
    """Find the faces in one RGB image and judge whether it is a usable portrait.

    `image` is a PIL image or an HxWx3 uint8 RGB array, as `images.load_upload` returns it.
    A photo is accepted when exactly one significant face is found and it passes every limit
    in `thresholds`; otherwise `reasons` lists each problem. The analysis keeps a reference to
    `image` (not a copy) for `PhotoAnalysis.crop`.
    """
    width, height = _size_of(image)
    work, scale = _working_copy(image)
    detections = _detect(work, thresholds.confident_face_score)
    boxes = tuple(box.scaled(1 / scale) for box, _ in detections)
    found = PhotoAnalysis(
        faces=_count_significant(detections, thresholds),
        boxes=boxes,
        box=None,
        landmarks=None,
        descriptor=None,
        fingerprint=None,
        mirrored_fingerprint=None,
        quality=None,
        reasons=(Reason("no_face"),),
        image_size=(width, height),
        _image=image,
    )
    if not detections:
        return found

    shape = _models().shape_5(work, _rect(detections[0][0]))
    points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    found = replace(found, box=boxes[0], landmarks=points / scale)
    if found.faces > 1:
        return replace(found, reasons=(Reason("several_faces", {"count": found.faces}),))

    chip = dlib.get_face_chip(work, shape, _DESCRIPTOR_CHIP, _DESCRIPTOR_PADDING)
    quality = _measure_quality(boxes[0], points, chip, (width, height))
    return replace(
        found,
        descriptor=np.asarray(_models().recogniser.compute_face_descriptor(chip), np.float32),
        fingerprint=_fingerprint(chip),
        mirrored_fingerprint=_fingerprint(np.ascontiguousarray(chip[:, ::-1])),
        quality=quality,
        reasons=tuple(_quality_reasons(quality, thresholds)),
    )


def analyse_set(
    analyses: Sequence[PhotoAnalysis], thresholds: FaceThresholds = FaceThresholds()
) -> SetReport:
    """Check that the accepted photos of a set show one person and are not re-uploads.

    Re-uploads first: a later accepted photo that is a near-duplicate of an earlier kept one
    (descriptor distance or perceptual hash) is refused as ``near_duplicate``. Then identity,
    robust to a minority of strangers: the medoid is the photo with the most others within
    `max_same_person_distance` (ties: smallest total distance); its neighbours form the first
    inliers, their mean the reference, and every kept photo farther than the threshold from
    that reference is an outlier (``different_person``).
    """
    reasons = [list(a.reasons) for a in analyses]
    kept: list[int] = []
    duplicates: list[tuple[int, int]] = []
    for index, analysis in enumerate(analyses):
        if not analysis.accepted:
            continue
        original = next(
            (
                k
                for k in kept
                if analyses[k].signature.is_near_duplicate(analysis.signature, thresholds)
            ),
            None,
        )
        if original is None:
            kept.append(index)
        else:
            duplicates.append((original, index))
            reasons[index].append(Reason("near_duplicate", {"of": original + 1}))

    usable: list[int] = []
    outliers: list[int] = []
    reference = None
    if kept:
        descriptors = np.stack([analyses[k].descriptor for k in kept]).astype(np.float64)
        pairwise = np.linalg.norm(descriptors[:, None] - descriptors[None], axis=2)
        close = pairwise <= thresholds.max_same_person_distance
        medoid = min(range(len(kept)), key=lambda i: (-close[i].sum(), pairwise[i].sum()))
        consensus = descriptors[close[medoid]].mean(axis=0)
        to_consensus = np.linalg.norm(descriptors - consensus, axis=1)
        for position, index in enumerate(kept):
            if to_consensus[position] <= thresholds.max_same_person_distance:
                usable.append(index)
            else:
                outliers.append(index)
                reasons[index].append(Reason("different_person"))
        reference = descriptors[[kept.index(i) for i in usable]].mean(axis=0).astype(np.float32)

    distances = tuple(
        None if a.descriptor is None or reference is None else compare(a.descriptor, reference)
        for a in analyses
    )
    return SetReport(
        reasons=tuple(tuple(r) for r in reasons),
        usable=tuple(usable),
        outliers=tuple(outliers),
        duplicates=tuple(duplicates),
        distances=distances,
        same_person=bool(usable) and not outliers,
        reference_descriptor=reference,
        thresholds=thresholds,
    )


def face_descriptor(image: Image.Image | np.ndarray) -> np.ndarray | None:
    """The descriptor of the main face in `image` (as `analyse_photo` picks it), or None.

    The cheap path for ranking rendered candidates: detection and descriptor only, no quality.
    """
    work, _ = _working_copy(image)
    detections = _detect(work, FaceThresholds.confident_face_score)
    if not detections:
        return None
    shape = _models().shape_5(work, _rect(detections[0][0]))
    chip = dlib.get_face_chip(work, shape, _DESCRIPTOR_CHIP, _DESCRIPTOR_PADDING)
    return np.asarray(_models().recogniser.compute_face_descriptor(chip), np.float32)


def likeness(image: Image.Image | np.ndarray, reference: np.ndarray) -> float | None:
    """Distance from the main face in a rendered `image` to `reference`; None: no face."""
    descriptor = face_descriptor(image)
    return None if descriptor is None else compare(descriptor, reference)


def rank_by_likeness(
    images: Sequence[Image.Image | np.ndarray], reference: np.ndarray
) -> list[tuple[int, float | None]]:
    """(index, distance) for each candidate, closest first; candidates without a face last."""
    scored = [(index, likeness(image, reference)) for index, image in enumerate(images)]
    return sorted(scored, key=lambda item: (item[1] is None, item[1] or 0.0, item[0]))


def face_landmarks_68(image: Image.Image | np.ndarray, box: Box) -> np.ndarray:
    """dlib's 68 landmarks (x, y, float32, original pixels) for the face in `box`.

    Used where the chin and jaw matter (ID photos); point 8 is the chin, 17-26 the brows.
    """
    work, scale = _working_copy(image)
    shape = _models().shape_68(work, _rect(box.scaled(scale)))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32) / scale


@dataclass(frozen=True)
class _Models:
    detector: dlib.fhog_object_detector
    shape_5: dlib.shape_predictor
    recogniser: dlib.face_recognition_model_v1

    @functools.cached_property
    def shape_68(self) -> dlib.shape_predictor:
        # 95 MB and only needed for ID photos, so loaded on first use.
        return dlib.shape_predictor(str(_model_file("shape_predictor_68_face_landmarks.dat")))


@functools.cache
def _models() -> _Models:
    return _Models(
        detector=dlib.get_frontal_face_detector(),
        shape_5=dlib.shape_predictor(str(_model_file("shape_predictor_5_face_landmarks.dat"))),
        recogniser=dlib.face_recognition_model_v1(
            str(_model_file("dlib_face_recognition_resnet_model_v1.dat"))
        ),
    )


def _model_file(name: str) -> Path:
    # The package's __init__ imports pkg_resources, which recent setuptools no longer ships:
    # find its folder without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    raise FaceModelsMissing(
        f"dlib model {name} not found: install the face_recognition_models package"
    )


def _size_of(image: Image.Image | np.ndarray) -> tuple[int, int]:
    if isinstance(image, Image.Image):
        return image.size
    return image.shape[1], image.shape[0]


def _working_copy(image: Image.Image | np.ndarray) -> tuple[np.ndarray, float]:
    """An RGB uint8 array at most WORK_LONG_SIDE long, and its scale against the original."""
    width, height = _size_of(image)
    scale = min(1.0, WORK_LONG_SIDE / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if isinstance(image, np.ndarray):
        # One resampling path for both kinds of input, so both give the same descriptor.
        image = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if scale < 1.0:
        rgb = rgb.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(rgb), dtype=np.uint8), scale


def _detect(work: np.ndarray, confident_score: float) -> list[tuple[Box, float]]:
    """(box, HOG score) of the faces in `work`, main face first; retried at double size if none.

    Confident detections come first, largest first, then the rest, best score first. The HOG
    detector's window is 80 px, so faces under ~70 px are invisible at scale 1; the 4x dearer
    upsampled pass runs only when the quick one finds nothing (dlib maps its boxes back to
    `work`'s pixels).
    """
    detector = _models().detector
    rects, scores, _ = detector.run(work, 0, 0.0)
    if not rects:
        rects, scores, _ = detector.run(work, 1, 0.0)
    found = [
        (Box(r.left(), r.top(), r.right() + 1, r.bottom() + 1), score)
        for r, score in zip(rects, scores, strict=True)
    ]
    confident = [item for item in found if item[1] >= confident_score]
    unsure = [item for item in found if item[1] < confident_score]
    confident.sort(key=lambda item: item[0].area, reverse=True)
    unsure.sort(key=lambda item: item[1], reverse=True)
    return confident + unsure


def _count_significant(detections: Sequence[tuple[Box, float]], limits: FaceThresholds) -> int:
    if not detections:
        return 0
    floor = detections[0][0].area * limits.secondary_face_area_ratio
    others = detections[1:]
    return 1 + sum(
        1 for box, score in others if box.area >= floor and score >= limits.confident_face_score
    )


def _rect(box: Box) -> dlib.rectangle:
    return dlib.rectangle(
        round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1
    )


def _shape_from_points(points: np.ndarray) -> dlib.full_object_detection:
    left, top = points.min(axis=0)
    right, bottom = points.max(axis=0)
    rect = dlib.rectangle(int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom)))
    return dlib.full_object_detection(rect, [dlib.point(round(x), round(y)) for x, y in points])


def _measure_quality(
    box: Box, points: np.ndarray, chip: np.ndarray, size: tuple[int, int]
) -> FaceQuality:
    width, height = size
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # The centre of the 150 px chip is brows, eyes, nose and mouth: background and hair around
    # the face would skew both sharpness and exposure.
    inner = (slice(30, 120), slice(35, 115))
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)[inner]
    gradient_x = cv2.Sobel(grey, cv2.CV_32F, 1, 0)[inner] / 8
    gradient_y = cv2.Sobel(grey, cv2.CV_32F, 0, 1)[inner] / 8
    gradient_energy = float((gradient_x**2 + gradient_y**2).mean())
    luma = grey[inner]
    visible_width = max(0.0, min(box.right, width) - max(box.left, 0))
    visible_height = max(0.0, min(box.bottom, height) - max(box.top, 0))
    return FaceQuality(
        face_px=box.width,
        face_fraction=box.width / min(width, height),
        sharpness=float(laplacian.var()) / max(gradient_energy, 1e-3),
        brightness=float(luma.mean()),
        highlight=float(np.percentile(luma, 99)),
        dark_fraction=float((luma <= 8).mean()),
        bright_fraction=float((luma >= 247).mean()),
        yaw_degrees=_yaw_degrees(points),
        cut_off_fraction=1.0 - visible_width * visible_height / box.area,
        flat_fraction=float((np.abs(laplacian) < 0.5).mean()),
    )


# The base of the nose sits in front of the eye corners. Seen turned by yaw θ, it shifts
# sideways from the eyes' midpoint by depth·sin θ while the eye distance shrinks by cos θ, so
# offset / eye distance = k·tan θ. k = 0.2 is the least-squares fit of this relation against
# cv2.solvePnP on six of the 68 landmarks and a generic head model, over the 17 single-face
# known photos (anthropometry gives 0.13-0.3). Good to a few degrees near frontal, rough past 30.
_NOSE_DEPTH_RATIO = 0.2


def _yaw_degrees(points: np.ndarray) -> float:
    eye_right_of_image = points[0:2].mean(axis=0)
    eye_left_of_image = points[2:4].mean(axis=0)
    axis = eye_right_of_image - eye_left_of_image
    eye_distance = float(np.linalg.norm(axis)) or 1.0
    middle = (eye_right_of_image + eye_left_of_image) / 2
    offset = float(np.dot(points[4] - middle, axis)) / eye_distance**2
    return math.degrees(math.atan(offset / _NOSE_DEPTH_RATIO))


def _quality_reasons(quality: FaceQuality, limits: FaceThresholds) -> list[Reason]:
    reasons = []
    if quality.face_px < limits.min_face_px:
        reasons.append(
            Reason(
                "face_too_small",
                {"face_px": round(quality.face_px), "min_face_px": round(limits.min_face_px)},
            )
        )
    if quality.cut_off_fraction > limits.max_cut_off_fraction:
        reasons.append(Reason("face_cut_off"))
    if abs(quality.yaw_degrees) > limits.max_yaw_degrees:
        reasons.append(
            Reason(
                "not_frontal",
                {"yaw": round(quality.yaw_degrees), "max_yaw": round(limits.max_yaw_degrees)},
            )
        )
    if quality.sharpness < limits.min_sharpness:
        reasons.append(
            Reason(
                "blurry",
                {"sharpness": round(quality.sharpness, 3), "min_sharpness": limits.min_sharpness},
            )
        )
    if quality.highlight < limits.min_highlight or quality.dark_fraction > limits.max_dark_fraction:
        reasons.append(Reason("too_dark", {"highlight": round(quality.highlight)}))
    elif quality.bright_fraction > limits.max_bright_fraction:
        reasons.append(Reason("too_bright", {"bright_fraction": round(quality.bright_fraction, 2)}))
    # A blurred or dark photo is flat too; those reasons say what to fix.
    if not reasons and quality.flat_fraction > limits.max_flat_fraction:
        reasons.append(Reason("drawing", {"flat_fraction": round(quality.flat_fraction, 2)}))
    return reasons


def _fingerprint(chip: np.ndarray) -> int:
    """64-bit DCT perceptual hash of the aligned face: robust to resizing and re-encoding."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].flatten()[1:]
    bits = low > np.median(low)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def _warp_chip(image: Image.Image | np.ndarray, details: dlib.chip_details) -> np.ndarray:
    """Extract dlib's rotated chip rectangle from `image`, mirroring past the photo's edges."""
    rect = details.rect
    step = rect.width() / details.cols  # source pixels per chip pixel
    cos, sin = math.cos(details.angle), math.sin(details.angle)
    to_source = np.array([[cos * step, -sin * step, 0.0], [sin * step, cos * step, 0.0]])
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    to_source[:, 2] = centre - to_source[:, :2] @ [details.cols / 2, details.rows / 2]
    return warp_affine(image, to_source, (details.cols, details.rows), border="reflect")
