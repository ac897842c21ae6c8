"""ID photos: exact canvas and DPI, head size and eye line in range, exact background colour."""

import io

import numpy as np
import pytest
from PIL import Image

from portrait.engine.faces import analyse_photo, face_landmarks_68
from portrait.engine.idphoto import BACKGROUNDS, ID_SPECS, make_id_photo

pytest_plugins = ["tests.engine.faces_fixtures"]

# The pixel sizes and print resolutions of REFERENCES.md ("ID photo specifications").
EXPECTED_SIZES = {
    "cn_1inch": (295, 413, 300),
    "cn_2inch": (413, 579, 300),
    "cn_resident_id": (358, 441, 350),
    "cn_passport": (390, 567, 300),
    "us_passport": (600, 600, 300),
    "schengen": (413, 531, 300),
}


@pytest.fixture(scope="module")
def id_photos(known_photo, analysed):
    """make_id_photo of obama_1 (a press portrait with a busy background), memoised."""
    made = {}

    def make(spec, background="blue"):
        if (spec, background) not in made:
            image = known_photo("obama_1")
            made[spec, background] = make_id_photo(image, spec, background, analysed("obama_1"))
        return made[spec, background]

    return make


def free_border(picture: np.ndarray) -> np.ndarray:
    """The pixels an ID photo must show as plain background: the top strip and both sides
    down to a third of the height (above the shoulders), 4 px deep."""
    height = picture.shape[0]
    return np.concatenate(
        [
            picture[:4].reshape(-1, 3),
            picture[: height // 3, :4].reshape(-1, 3),
            picture[: height // 3, -4:].reshape(-1, 3),
        ]
    )


def decoded(data: bytes) -> tuple[np.ndarray, Image.Image]:
    opened = Image.open(io.BytesIO(data))
    return np.asarray(opened.convert("RGB")).astype(int), opened


def test_specs_match_the_reference_sizes():
    for name, (width, height, dpi) in EXPECTED_SIZES.items():
        spec = ID_SPECS[name]
        assert (spec.width_px, spec.height_px, spec.dpi) == (width, height, dpi)
        assert 0 < spec.head_height[0] < spec.head_height[1] < 1
        assert 0 < spec.eye_line[0] < spec.eye_line[1] < 1
    assert ID_SPECS["schengen"].head_height == pytest.approx((32 / 45, 36 / 45))
    assert ID_SPECS["us_passport"].head_height == pytest.approx((0.5, 0.6875))


@pytest.mark.parametrize("spec", list(EXPECTED_SIZES))
def test_each_spec_has_its_exact_size_and_dpi(id_photos, spec):
    width, height, dpi = EXPECTED_SIZES[spec]
    result = id_photos(spec)

    for data in (result.png, result.jpeg):
        pixels, opened = decoded(data)
        assert pixels.shape == (height, width, 3)
        assert [round(value) for value in opened.info["dpi"]] == [dpi, dpi]
    assert result.image.size == (width, height)


@pytest.mark.parametrize("spec", list(EXPECTED_SIZES))
def test_head_height_and_eye_line_fall_inside_the_spec(id_photos, spec):
    result = id_photos(spec)
    limits = ID_SPECS[spec]

    assert limits.head_height[0] <= result.head_height_fraction <= limits.head_height[1]
    assert limits.eye_line[0] <= result.eye_line_fraction <= limits.eye_line[1]
    # Measured again on the finished photo, not taken from the layout's own bookkeeping.
    finished = result.image
    points = face_landmarks_68(finished, analyse_photo(finished).box)
    eye_line = 1 - points[36:48, 1].mean() / finished.height
    assert eye_line == pytest.approx(result.eye_line_fraction, abs=0.01)


@pytest.mark.parametrize("spec", list(EXPECTED_SIZES))
def test_background_border_is_exactly_the_colour_in_the_png(id_photos, spec):
    pixels, _ = decoded(id_photos(spec).png)

    assert np.abs(free_border(pixels) - BACKGROUNDS["blue"]).max() == 0
    assert np.abs(pixels[0, 0] - BACKGROUNDS["blue"]).max() == 0
    assert np.abs(pixels[0, -1] - BACKGROUNDS["blue"]).max() == 0


@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_every_background_colour(id_photos, background):
    result = id_photos("schengen", background)
    colour = BACKGROUNDS[background]

    png, _ = decoded(result.png)
    jpeg, _ = decoded(result.jpeg)

    assert np.abs(free_border(png) - colour).max() == 0
    assert np.abs(free_border(jpeg) - colour).max() <= 2


def test_person_is_kept_where_the_face_is(id_photos):
    pixels, _ = decoded(id_photos("schengen", "red").png)
    height, width, _ = pixels.shape

    centre = pixels[height // 3 : height // 2, width * 2 // 5 : width * 3 // 5]
    assert (np.abs(centre - BACKGROUNDS["red"]).max(axis=2) > 30).mean() > 0.95


def test_image_without_a_face_still_gives_an_exact_canvas_with_a_warning():
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (512, 512, 3), np.uint8))

    result = make_id_photo(noise, "cn_1inch", "white")

    pixels, opened = decoded(result.png)
    assert pixels.shape == (413, 295, 3)
    assert [round(value) for value in opened.info["dpi"]] == [300, 300]
    assert [reason.code for reason in result.warnings] == ["no_face"]
    assert np.abs(free_border(pixels) - 255).max() == 0


def test_photo_cut_at_the_chest_warns_that_it_is_framed_too_tight(known_photo):
    portrait = known_photo("obama_4")  # ends just below the knot of the tie

    result = make_id_photo(portrait, "us_passport", "white")

    assert "framed_too_tight" in [reason.code for reason in result.warnings]
    assert result.image.size == (600, 600)


def test_unknown_spec_or_background_is_refused(known_photo):
    with pytest.raises(ValueError, match="unknown ID photo spec"):
        make_id_photo(known_photo("obama_1"), "mars_passport", "white")
    with pytest.raises(ValueError, match="unknown background"):
        make_id_photo(known_photo("obama_1"), "schengen", "green")
