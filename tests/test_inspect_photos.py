"""`manage.py inspect_photos`: verdicts on a folder of photos, without storing anything."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from portrait.models import Photo, Subject
from tests.conftest import FACES

OBAMA = ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "obama_4.jpg"]


def folder_of(path, names):
    path.mkdir()
    for name in names:
        (path / name).symlink_to(FACES / name)
    return path


def inspect(folder, *args):
    """(exit status, stdout) of the command."""
    out = StringIO()
    try:
        call_command("inspect_photos", str(folder), *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def inspect_json(folder, *args):
    status, out = inspect(folder, "--json", *args)
    return status, json.loads(out)


@pytest.fixture(scope="module")
def mixed_set(tmp_path_factory):
    """Four distinct Obama photos, Biden, Obama's first photo again at 480p, a group photo."""
    names = [*OBAMA, "biden_1.jpg", "obama_5_480p.jpg", "group_two_people.jpg"]
    return folder_of(tmp_path_factory.mktemp("inspect") / "mixed", names)


@pytest.fixture(scope="module")
def mixed_report(mixed_set):
    return inspect_json(mixed_set, "--selfie", str(FACES / "obama_6_small.jpg"))


def verdict(report, name):
    return next(photo for photo in report["photos"] if photo["file"] == name)


def test_distinct_photos_of_one_person_pass_as_one_person(tmp_path):
    status, report = inspect_json(folder_of(tmp_path / "obama", OBAMA))
    assert status == 0
    assert report["same_person"] is True
    assert [photo["accepted"] for photo in report["photos"]] == [True] * 4
    assert report["outliers"] == []
    assert report["near_duplicates"] == []
    assert report["selfie_match"] is None


def test_report_has_the_specified_keys(mixed_report):
    _status, report = mixed_report
    assert set(report) >= {"photos", "same_person", "outliers", "near_duplicates", "selfie_match"}
    assert set(report["photos"][0]) >= {"file", "accepted", "faces", "reasons"}


def test_another_person_is_named_the_outlier(mixed_report):
    status, report = mixed_report
    assert status == 1
    assert report["same_person"] is False
    assert report["outliers"] == ["biden_1.jpg"]
    assert verdict(report, "biden_1.jpg")["reasons"] == [
        "looks like a different person from your other photos"
    ]


def test_same_photo_at_another_size_is_a_near_duplicate(mixed_report):
    _status, report = mixed_report
    assert report["near_duplicates"] == [{"file": "obama_5_480p.jpg", "same_as": "obama_1.jpg"}]
    numbers = {photo["file"]: number for number, photo in enumerate(report["photos"], start=1)}
    assert verdict(report, "obama_5_480p.jpg")["reasons"] == [
        f"same photo as #{numbers['obama_1.jpg']}"
    ]


def test_group_photo_is_refused_for_two_faces(mixed_report):
    _status, report = mixed_report
    group = verdict(report, "group_two_people.jpg")
    assert group["accepted"] is False
    assert group["faces"] == 2
    assert group["reasons"] == ["two faces: upload photos of only you"]


def test_selfie_of_the_same_person_matches(mixed_report):
    _status, report = mixed_report
    assert report["selfie_match"]["matched"] is True
    assert report["selfie_match"]["distance"] < 0.5


def test_selfie_of_another_person_does_not_match(tmp_path):
    status, report = inspect_json(
        folder_of(tmp_path / "obama", OBAMA[:2]), "--selfie", str(FACES / "biden_2.jpg")
    )
    assert status == 1
    assert report["selfie_match"]["matched"] is False
    assert report["selfie_match"]["reasons"] == [
        "your photos do not match your verification selfie"
    ]


def test_a_file_that_is_no_image_is_refused_with_its_reason(tmp_path):
    folder = folder_of(tmp_path / "photos", OBAMA[:1])
    (folder / "notes.txt").write_text("not a photo")
    _status, report = inspect_json(folder)
    assert verdict(report, "notes.txt") == {
        "file": "notes.txt",
        "accepted": False,
        "faces": None,
        "reasons": ["not an image"],
        "codes": ["not_an_image"],
    }


def test_text_output_names_each_verdict(mixed_set):
    status, out = inspect(mixed_set, "--selfie", str(FACES / "biden_2.jpg"))
    assert status == 1
    assert "biden_1.jpg: refused: looks like a different person" in out
    assert "obama_5_480p.jpg is the same photo as obama_1.jpg" in out
    assert "selfie biden_2.jpg: does not match" in out


def test_inspecting_stores_nothing(db, mixed_set, data_dir):
    before = sorted(data_dir.rglob("*"))
    events = AuditEvent.objects.count()
    inspect(mixed_set, "--selfie", str(FACES / "obama_4.jpg"))
    assert sorted(data_dir.rglob("*")) == before
    assert AuditEvent.objects.count() == events
    assert not Subject.objects.exists()
    assert not Photo.objects.exists()


def test_missing_folder_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("inspect_photos", str(tmp_path / "missing"))
