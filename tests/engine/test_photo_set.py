"""A set of uploads: one person, no re-uploads, matched against the verification selfie."""

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from portrait.engine.faces import (
    analyse_photo,
    analyse_set,
    compare,
    rank_by_likeness,
)

pytest_plugins = ["tests.engine.faces_fixtures"]

DISTINCT_OBAMA = ["obama_1", "obama_2", "obama_3", "obama_4"]


def analyses(analysed, *stems):
    return [analysed(stem) for stem in stems]


def reason_codes(report, index):
    return [reason.code for reason in report.reasons[index]]


def test_distinct_photos_of_one_person_pass_as_one_person(analysed):
    report = analyse_set(analyses(analysed, *DISTINCT_OBAMA))

    assert report.same_person
    assert report.usable == (0, 1, 2, 3)
    assert report.outliers == ()
    assert report.duplicates == ()
    assert all(reasons == () for reasons in report.reasons)


def test_another_person_among_them_is_named_the_outlier(analysed):
    report = analyse_set(analyses(analysed, "obama_1", "obama_2", "biden_1", "obama_3", "obama_4"))

    assert not report.same_person
    assert report.outliers == (2,)
    assert report.usable == (0, 1, 3, 4)
    assert reason_codes(report, 2) == ["different_person"]
    assert report.reasons[2][0].message == "looks like a different person from your other photos"


def test_two_strangers_in_a_set_of_one_person_are_both_outliers(analysed):
    report = analyse_set(analyses(analysed, "rose_leslie_1", *DISTINCT_OBAMA, "kit_harington_1"))

    assert report.outliers == (0, 5)
    assert report.usable == (1, 2, 3, 4)


def test_same_photo_at_other_sizes_is_named_a_near_duplicate(analysed):
    report = analyse_set(analyses(analysed, "obama_1", "obama_2", "obama_5_480p", "obama_6_small"))

    assert report.duplicates == ((0, 2), (0, 3))
    assert [(r.code, r.params) for r in report.reasons[2]] == [("near_duplicate", {"of": 1})]
    assert report.reasons[3][0].message == "same photo as #1"
    assert report.usable == (0, 1)
    assert report.same_person


def test_png_copy_with_transparency_is_a_near_duplicate(analysed):
    report = analyse_set(analyses(analysed, "obama_1", "obama_2", "obama_rgba"))

    assert report.duplicates == ((1, 2),)


@pytest.mark.parametrize(
    "edit",
    [
        ImageOps.mirror,
        lambda image: image.rotate(5, Image.Resampling.BICUBIC),
        lambda image: image.rotate(-5, Image.Resampling.BICUBIC),
        lambda image: image.crop((image.width // 10, 0, image.width, image.height * 3 // 4)),
        lambda image: ImageEnhance.Brightness(image).enhance(1.2),
        lambda image: ImageEnhance.Color(image).enhance(0.5),
        lambda image: image.convert("L").convert("RGB"),
    ],
    ids=["mirrored", "rotated+5", "rotated-5", "cropped", "brighter", "desaturated", "grey"],
)
def test_edited_copy_of_an_upload_is_a_near_duplicate(known_photo, analysed, edit):
    # So a set cannot be padded out with variants of one photo (see bench.faces --distances).
    copy = analyse_photo(edit(known_photo("obama_1")))
    assert copy.accepted

    report = analyse_set([analysed("obama_1"), copy])

    assert report.duplicates == ((0, 1),)


def test_refused_photos_take_no_part_in_the_set(analysed):
    report = analyse_set(
        analyses(analysed, "obama_1", "group_two_people", "obama_partial_face", "obama_2")
    )

    assert report.usable == (0, 3)
    assert reason_codes(report, 1) == ["several_faces"]
    assert reason_codes(report, 2) == ["face_cut_off"]
    assert report.same_person


def test_reference_is_the_mean_of_the_usable_descriptors(analysed):
    report = analyse_set(analyses(analysed, *DISTINCT_OBAMA, "biden_2"))

    expected = np.mean([analysed(stem).descriptor for stem in DISTINCT_OBAMA], axis=0)
    np.testing.assert_allclose(report.reference_descriptor, expected, atol=1e-6)
    assert report.distances[4] > 0.6
    assert max(report.distances[:4]) < 0.35


def test_selfie_of_the_same_person_matches(analysed):
    report = analyse_set(analyses(analysed, "obama_1", "obama_2", "obama_3"))

    match = report.selfie_match(analysed("obama_4").descriptor)

    assert match.matched
    assert match.distance < 0.4
    assert match.reason is None


@pytest.mark.parametrize("stranger", ["biden_1", "lin_manuel_miranda_1", "alex_lacamoire_1"])
def test_selfie_of_another_person_does_not_match(analysed, stranger):
    report = analyse_set(analyses(analysed, *DISTINCT_OBAMA))

    match = report.selfie_match(analysed(stranger).descriptor)

    assert not match.matched
    assert match.reason.code == "selfie_mismatch"


def test_set_without_a_usable_photo_matches_no_selfie(analysed):
    report = analyse_set(analyses(analysed, "group_two_people"))

    assert not report.same_person
    assert report.reference_descriptor is None
    assert not report.selfie_match(analysed("obama_1").descriptor).matched


def test_compare_is_a_symmetric_distance(analysed):
    a, b = analysed("obama_1").descriptor, analysed("biden_1").descriptor

    assert compare(a, a) == 0.0
    assert compare(a, b) == pytest.approx(compare(b, a))
    assert compare(a, b) > 0.6


def test_rendered_candidates_are_ranked_by_likeness(known_photo, analysed):
    reference = analyse_set(
        analyses(analysed, "obama_1", "obama_2", "obama_3")
    ).reference_descriptor
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), np.uint8))
    candidates = [noise, known_photo("biden_1"), known_photo("obama_4")]

    ranking = rank_by_likeness(candidates, reference)

    assert [index for index, _ in ranking] == [2, 1, 0]
    assert ranking[0][1] < 0.5 < ranking[1][1]
    assert ranking[2][1] is None
