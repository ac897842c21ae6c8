"""One photo at a time: faces found, quality judged, descriptor and training crop produced.

Uses the real photos in shared/faces/known (see its README for who is who).
"""

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from skimage import data as skimage_data

from portrait.engine.faces import (
    FaceThresholds,
    analyse_photo,
    compare,
    face_descriptor,
    face_landmarks_68,
)

pytest_plugins = ["tests.engine.faces_fixtures"]

SINGLE_FACES = [
    "obama_1",
    "obama_2",
    "obama_3",
    "obama_4",
    "obama_5_480p",
    "obama_6_small",
    "obama_rgba",
    "biden_1",
    "biden_2",
    "kit_harington_1",
    "kit_harington_2",
    "rose_leslie_1",
    "rose_leslie_2",
    "alex_lacamoire_1",
    "alex_lacamoire_2",
    "lin_manuel_miranda_1",
]


def codes(analysis):
    return [reason.code for reason in analysis.reasons]


@pytest.mark.parametrize("stem", SINGLE_FACES)
def test_single_person_photo_is_accepted(analysed, stem):
    analysis = analysed(stem)

    assert analysis.accepted, codes(analysis)
    assert analysis.faces == 1
    assert analysis.descriptor.shape == (128,)
    assert analysis.descriptor.dtype == np.float32
    assert analysis.landmarks.shape == (5, 2)


@pytest.mark.parametrize("stem", ["group_two_people", "group_kit_harington_rose_leslie"])
def test_group_photo_is_refused_for_two_faces(analysed, stem):
    analysis = analysed(stem)

    assert not analysis.accepted
    assert analysis.faces == 2
    assert [(r.code, r.params) for r in analysis.reasons] == [("several_faces", {"count": 2})]
    assert analysis.reasons[0].message.startswith("two faces")


def test_group_with_a_child_in_the_background_counts_the_two_adults(analysed):
    # The girl at the bottom right is detected only in a copy 1024 px or larger, and then
    # with a weak score (0.23) that does not count as a face: two faces, both adults.
    analysis = analysed("group_obama_biden")

    assert analysis.reasons[0].code == "several_faces"
    assert analysis.faces == 2


def test_face_cut_by_the_frame_is_refused_but_still_described(analysed):
    analysis = analysed("obama_partial_face")

    assert codes(analysis) == ["face_cut_off"]
    assert analysis.quality.cut_off_fraction > 0.05
    assert analysis.descriptor is not None


def test_face_below_100_px_is_too_small(known_photo):
    image = known_photo("obama_1")
    small = image.resize((image.width * 3 // 10, image.height * 3 // 10), Image.Resampling.LANCZOS)

    analysis = analyse_photo(small)

    assert analysis.faces == 1
    assert analysis.quality.face_px < 100
    assert "face_too_small" in codes(analysis)


def test_blurred_photo_is_refused_as_blurry(known_photo, analysed):
    face_width = analysed("obama_1").box.width
    blurred = known_photo("obama_1").filter(ImageFilter.GaussianBlur(0.02 * face_width))

    assert codes(analyse_photo(blurred)) == ["blurry"]


def test_underexposed_photo_is_too_dark(known_photo):
    dark = ImageEnhance.Brightness(known_photo("obama_1")).enhance(0.25)

    assert codes(analyse_photo(dark)) == ["too_dark"]


def test_overexposed_photo_is_too_bright(known_photo):
    bright = ImageEnhance.Brightness(known_photo("rose_leslie_1")).enhance(2.0)

    assert codes(analyse_photo(bright)) == ["too_bright"]


def test_dark_skin_in_good_light_is_not_too_dark(analysed):
    # Exposure is judged by highlights and clipping, not by mean skin brightness.
    for stem in ("obama_3", "obama_4", "biden_1"):
        assert analysed(stem).quality.highlight >= FaceThresholds().min_highlight


def test_turned_head_is_refused_when_the_limit_is_strict(known_photo):
    strict = FaceThresholds(max_yaw_degrees=20)

    turned = analyse_photo(known_photo("obama_2"), strict)
    frontal = analyse_photo(known_photo("obama_1"), strict)

    assert "not_frontal" in codes(turned)
    assert frontal.accepted


def test_yaw_changes_sign_in_the_mirror(known_photo, analysed):
    mirrored = analyse_photo(ImageOps.mirror(known_photo("obama_2")))

    yaw = analysed("obama_2").quality.yaw_degrees
    assert abs(yaw) > 20
    assert mirrored.quality.yaw_degrees == pytest.approx(-yaw, abs=6)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), (128, 128, 128)),
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), np.uint8)),
    ],
)
def test_no_face(image):
    analysis = analyse_photo(image)

    assert analysis.faces == 0
    assert codes(analysis) == ["no_face"]
    assert analysis.box is None
    assert analysis.descriptor is None


def test_round_patch_is_not_taken_for_a_second_face():
    # After JPEG q60, dlib's HOG detector fires weakly on the astronaut's mission patch, a box
    # larger than her face; it must neither count as a face nor be analysed instead of her.
    buffer = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(buffer, "JPEG", quality=60)
    astronaut = Image.open(buffer).convert("RGB")

    analysis = analyse_photo(astronaut)

    assert analysis.faces == 1
    assert analysis.box.top < 150  # her face, not the patch on her chest
    assert codes(analysis) == ["face_too_small"]  # 88 px in a 512 px image


def test_array_input_gives_the_same_analysis_as_a_pil_image(known_photo, analysed):
    from_array = analyse_photo(np.asarray(known_photo("obama_4")))

    assert compare(from_array.descriptor, analysed("obama_4").descriptor) < 1e-6
    assert from_array.box == analysed("obama_4").box


def test_training_crop_is_square_aligned_and_centred(analysed):
    crop = analysed("obama_4").crop(512)

    assert crop.size == (512, 512)
    recropped = analyse_photo(crop)
    eyes_right, eyes_left = recropped.landmarks[0:2].mean(0), recropped.landmarks[2:4].mean(0)
    assert abs(eyes_right[1] - eyes_left[1]) < 6  # eyes level
    centre_x = (recropped.box.left + recropped.box.right) / 2
    assert abs(centre_x - 256) < 40
    assert 130 < recropped.box.width < 300  # a portrait: room for hair and shoulders
    assert compare(recropped.descriptor, analysed("obama_4").descriptor) < 0.2


def test_crop_of_a_large_photo_has_the_asked_size(analysed):
    crop = analysed("obama_3").crop(256)

    assert crop.size == (256, 256)
    assert crop.mode == "RGB"


def test_68_landmarks_put_the_chin_below_the_eyes(known_photo, analysed):
    points = face_landmarks_68(known_photo("obama_1"), analysed("obama_1").box)

    assert points.shape == (68, 2)
    assert points[8, 1] > points[36:48, 1].mean() + 100


def test_face_descriptor_of_the_main_face_or_none(known_photo, analysed):
    descriptor = face_descriptor(known_photo("obama_1"))

    assert compare(descriptor, analysed("obama_1").descriptor) < 0.02
    assert face_descriptor(Image.new("RGB", (512, 512), "white")) is None
