"""Small previews of a person's outputs for the gallery, made in memory on request and never
stored: the decrypted portrait exists only inside the request that shows it to its owner."""

import io

from PIL import Image

# Widths the gallery asks for (1× and 2× screens); any other is refused, so nobody can make the
# server resize to arbitrary sizes.
SIZES = (160, 320, 640)


def thumbnail(data, width):
    """A JPEG of the image in ``data``, at most ``width`` pixels wide, aspect kept."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()
