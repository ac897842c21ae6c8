"""Write a demo photo set made from the public-domain astronaut portrait that scikit-image ships
(NASA's photo of Eileen Collins), so the demo needs no download and no one's private photos.

Only one photo of her exists on disk, so the set's variety is made here: crops at different
framings, mirror images, small rotations, and changes of light and colour. Each variant is a
different picture of the same face, which is what the upload checks expect of a real set.
"""

import io
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand
from PIL import Image, ImageEnhance
from skimage import data as skimage_data


def astronaut():
    return Image.fromarray(skimage_data.astronaut())


def variant(image, rng):
    width, height = image.size
    scale = rng.uniform(0.62, 0.95)
    crop_w, crop_h = int(width * scale), int(height * scale)
    # The face sits in the upper middle of the photo; keep it inside every crop.
    left = int(rng.uniform(max(0, 300 - crop_w), min(width - crop_w, 130) + 1))
    top = int(rng.uniform(0, min(height - crop_h, 40) + 1))
    out = image.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = out.rotate(
        rng.uniform(-7, 7),
        resample=Image.Resampling.BICUBIC,
        expand=False,
        fillcolor=tuple(int(c) for c in rng.integers(0, 255, 3)),
    )
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.25))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.6, 1.4))
    size = int(rng.uniform(480, 720))
    return out.resize((size, size), Image.Resampling.LANCZOS)


def jpeg(image, quality):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Write demo photos (set/*.jpg and selfie.jpg) made from skimage's astronaut portrait."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path)
        parser.add_argument("--count", type=int, default=20)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, out, count, seed, **options):
        rng = np.random.default_rng(seed)
        source = astronaut()
        photo_dir = out / "set"
        photo_dir.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            quality = int(rng.integers(80, 96))
            (photo_dir / f"astronaut-{index + 1:02d}.jpg").write_bytes(
                jpeg(variant(source, rng), quality)
            )
        (out / "selfie.jpg").write_bytes(jpeg(variant(source, rng), 90))
        self.stdout.write(
            f"wrote {count} photos to {photo_dir} and a selfie to {out / 'selfie.jpg'}: "
            "variants of the public-domain astronaut portrait that scikit-image ships (the "
            "upload checks refuse all but one of them as near-duplicates, as they should)"
        )
