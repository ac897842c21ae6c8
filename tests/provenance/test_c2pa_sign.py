"""C2PA manifest: what it says, and what it must never carry."""

import dataclasses
import io
import json

import c2pa
import pytest

from portrait.provenance.c2pa_sign import (
    SigningError,
    WatermarkInfo,
    sign_image,
    soft_binding_algorithm,
)
from portrait.provenance.xmp import TRAINED_ALGORITHMIC_MEDIA


def _sign(material, data: bytes, mime: str = "image/jpeg") -> bytes:
    return sign_image(
        data,
        mime,
        material=material,
        claim_generator=("Sitter", "1.2.3"),
        title="AI-generated portrait",
        style="hanfu",
        base_model="sd15-tiny",
        watermark_info=WatermarkInfo(soft_binding_algorithm("tiled-ss-v1"), "05177e12e301"),
    )


def _manifest(signed: bytes, mime: str = "image/jpeg") -> dict:
    with c2pa.Reader(mime, io.BytesIO(signed)) as reader:
        store = json.loads(reader.json())
    return store["manifests"][store["active_manifest"]]


@pytest.fixture(scope="module")
def manifest(material, portrait):
    buffer = io.BytesIO()
    portrait.save(buffer, "JPEG", quality=90)
    return _manifest(_sign(material, buffer.getvalue()))


def _assertion(manifest: dict, label: str) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] == label)


def test_manifest_records_creation_by_a_trained_model(manifest):
    actions = _assertion(manifest, "c2pa.actions.v2")["actions"]
    created = [a for a in actions if a["action"] == "c2pa.created"]
    assert created and created[0]["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA


def test_manifest_names_sitter_as_claim_generator(manifest):
    generator = manifest["claim_generator_info"][0]
    assert (generator["name"], generator["version"]) == ("Sitter", "1.2.3")


def test_render_assertion_holds_only_style_and_base_model(manifest):
    assert _assertion(manifest, "org.sitter.render") == {
        "style": "hanfu",
        "base_model": "sd15-tiny",
    }


def test_watermark_is_recorded_as_a_soft_binding(manifest):
    binding = _assertion(manifest, "c2pa.soft-binding")
    assert binding["alg"] == "org.sitter.tiled-ss-v1"
    assert binding["blocks"][0]["value"] == "05177e12e301"


def test_manifest_has_no_thumbnail_and_no_ingredient(manifest):
    labels = [a["label"] for a in manifest["assertions"]]
    assert not any("thumbnail" in label for label in labels)
    assert not any("ingredient" in label for label in labels)
    assert not manifest.get("ingredients")
    assert "thumbnail" not in manifest


def test_manifest_lists_only_the_expected_assertions(manifest):
    labels = {a["label"] for a in manifest["assertions"]}
    assert labels == {"c2pa.actions.v2", "org.sitter.render", "c2pa.soft-binding"}


def test_png_can_be_signed(material, id_photo):
    buffer = io.BytesIO()
    id_photo.save(buffer, "PNG")
    signed = _sign(material, buffer.getvalue(), "image/png")
    assert _assertion(_manifest(signed, "image/png"), "org.sitter.render")["style"] == "hanfu"


def test_other_types_are_refused(material):
    with pytest.raises(SigningError, match="cannot sign"):
        _sign(material, b"GIF89a", "image/gif")


def test_malformed_image_is_a_signing_error(material):
    with pytest.raises(SigningError):
        _sign(material, b"\xff\xd8\xff\xe0 not really a jpeg")


def test_configured_timestamp_authority_is_asked(material, portrait):
    # Nothing listens on the loopback discard port: the failure proves the request was made,
    # and that signing does not quietly go on without the timestamp it was told to get.
    buffer = io.BytesIO()
    portrait.save(buffer, "JPEG")
    with pytest.raises(SigningError, match="127.0.0.1:9"):
        sign_image(
            buffer.getvalue(),
            "image/jpeg",
            material=dataclasses.replace(material, tsa_url="http://127.0.0.1:9/tsa"),
            claim_generator=("Sitter", "1.2.3"),
            title="AI-generated portrait",
            style="hanfu",
            base_model="sd15-tiny",
            watermark_info=None,
        )
