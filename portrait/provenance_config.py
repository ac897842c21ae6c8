"""This site's provenance settings, as the provenance package takes them."""

from django.conf import settings

from .provenance import ProvenanceConfig
from .signing import signing_material

# The watermark payload carries a 32-bit id per output (plus its CRC).
WATERMARK_ID_BITS = 32


def provenance_config(style):
    """Portraits are JPEG; ID photos are PNG so their background colour stays exact, with the
    visible label where the operator puts it for ID photos."""
    id_photo = style.id_photo is not None
    return ProvenanceConfig(
        material=signing_material(),
        label_position=(
            settings.SITTER_ID_PHOTO_LABEL_POSITION if id_photo else settings.SITTER_LABEL_POSITION
        ),
        format="PNG" if id_photo else "JPEG",
        producer=settings.SITTER_PRODUCER,
        tsa_url=settings.SITTER_TSA_URL,
    )
