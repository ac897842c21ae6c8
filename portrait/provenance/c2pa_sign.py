"""Signed C2PA manifest: the last provenance step, after which no byte may change.

The manifest says that the image was created by a trained model (``c2pa.created`` with IPTC's
trainedAlgorithmicMedia), which program made it (Sitter and its version), the style and the
base model's name (``org.sitter.render``), and the invisible watermark's payload as a soft
binding, so that a copy stripped of its manifest can be matched back to it. It carries no
thumbnail, no ingredient and nothing about the person portrayed.
"""

import io
from dataclasses import dataclass

import c2pa

from .signing import SigningMaterial, signing_algorithm

RENDER_ASSERTION = "org.sitter.render"
SOFT_BINDING_ASSERTION = "c2pa.soft-binding"
SUPPORTED_MIME_TYPES = ("image/jpeg", "image/png")

# Settings shared by every signing and reading context. The builder would otherwise put a
# thumbnail of the portrait into the manifest (personal data outside the vault's encryption),
# and a reader must never reach out to the network for a remote manifest or OCSP.
BASE_SETTINGS = {
    "builder": {"thumbnail": {"enabled": False}},
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}


class SigningError(Exception):
    """The image could not be signed (bad material, unsupported type, malformed image)."""


@dataclass(frozen=True)
class WatermarkInfo:
    """The invisible watermark to record as a soft binding: its algorithm and payload in hex."""

    algorithm: str
    payload_hex: str


def soft_binding_algorithm(backend_name: str) -> str:
    """The soft-binding ``alg`` for a watermark backend (a reverse-domain name, as C2PA asks)."""
    return f"org.sitter.{backend_name}"


def build_manifest(
    *,
    claim_generator: tuple[str, str],
    title: str,
    style: str,
    base_model: str,
    watermark_info: WatermarkInfo | None,
) -> dict:
    """The manifest definition handed to the c2pa Builder (the created action comes from the
    builder's intent)."""
    name, version = claim_generator
    assertions = [
        {"label": RENDER_ASSERTION, "data": {"style": style, "base_model": base_model}},
    ]
    if watermark_info is not None:
        assertions.append(
            {
                "label": SOFT_BINDING_ASSERTION,
                "data": {
                    "alg": watermark_info.algorithm,
                    "blocks": [{"scope": {}, "value": watermark_info.payload_hex}],
                    "pad": [],
                },
            }
        )
    return {
        "claim_generator_info": [{"name": name, "version": version}],
        "title": title,
        "assertions": assertions,
    }


def sign_image(
    image_bytes: bytes,
    mime: str,
    *,
    material: SigningMaterial,
    claim_generator: tuple[str, str],
    title: str,
    style: str,
    base_model: str,
    watermark_info: WatermarkInfo | None,
    tsa_url: str | None = None,
) -> bytes:
    """Embed a signed C2PA manifest into a JPEG or PNG and return the signed bytes.

    ``tsa_url`` (or the material's own) asks an RFC 3161 timestamp authority to countersign, so
    the manifest stays valid after the certificate expires; without one nothing leaves the host.
    """
    if mime not in SUPPORTED_MIME_TYPES:
        raise SigningError(f"cannot sign {mime!r}: only {', '.join(SUPPORTED_MIME_TYPES)}")
    manifest = build_manifest(
        claim_generator=claim_generator,
        title=title,
        style=style,
        base_model=base_model,
        watermark_info=watermark_info,
    )
    # None, not "", is how the native library spells "no timestamp authority".
    timestamp_url = tsa_url or material.tsa_url or None
    signed = io.BytesIO()
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(
                signing_algorithm(material.leaf_key_pem),
                material.chain_pem,
                material.leaf_key_pem,
                timestamp_url,
            )
        )
        with (
            c2pa.Context.from_dict(BASE_SETTINGS) as context,
            c2pa.Builder(manifest, context=context) as builder,
            signer,
        ):
            builder.set_intent(
                c2pa.C2paBuilderIntent.CREATE,
                c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA,
            )
            builder.sign(signer, mime, io.BytesIO(image_bytes), signed)
    except c2pa.C2paError as exc:
        raise SigningError(f"C2PA signing failed: {exc}") from exc
    return signed.getvalue()
