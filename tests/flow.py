"""Helpers that take a test person through the flow with the real services."""

from django.core.files.uploadedfile import SimpleUploadedFile

from portrait import services
from tests.conftest import face_bytes

# Obama in three distinct photos, and a fourth as the selfie (faces/README.md).
SELFIE = "obama_1.jpg"
SET = ["obama_2.jpg", "obama_3.jpg", "obama_4.jpg"]


def upload(name, data=None):
    return SimpleUploadedFile(name, face_bytes(name) if data is None else data)


def with_selfie(user, name=SELFIE):
    services.record_selfie(user, upload(name), method="web")
    return user


def with_photos(user, names=SET):
    verdicts = [services.upload_photo(user, upload(name), method="web") for name in names]
    assert all(v.accepted for v in verdicts), [v.reasons for v in verdicts]
    return verdicts
