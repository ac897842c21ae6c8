"""Provenance benchmark: chain timings, watermark robustness and false positives.

    python -m bench.provenance [--json] [--repeats N]

Prints the time of each provenance step and of the whole chain at 512² and 1024² on one thread,
a table of watermark bit accuracy and detection after common edits, detection and colour change
on flat ID-photo backgrounds with only the label on them (PNG), and the false-positive rate over
200 varied unmarked images and over unmarked flat ones. With --json, one JSON line instead.
"""

import os

# One thread, set before numpy and OpenCV load their thread pools: the figures are per core.
# Only when run as the benchmark: the tests import the image helpers below, and must not pin
# the threads of everything else in their process.
if __name__ == "__main__":
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402

from portrait.provenance import watermark  # noqa: E402
from portrait.provenance.chain import ProvenanceConfig, apply_provenance  # noqa: E402
from portrait.provenance.label import apply_label, label_box  # noqa: E402
from portrait.provenance.signing import create_signing_chain  # noqa: E402

# Images shipped with scikit-image, so the benchmark needs nothing downloaded.
NATURAL_IMAGES = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "brick",
    "grass",
    "gravel",
    "moon",
    "page",
    "text",
    "coins",
    "horse",
    "immunohistochemistry",
    "cell",
    "clock",
    "colorwheel",
    "checkerboard",
    "logo",
    "microaneurysms",
)
ROBUSTNESS_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass")
ID_BACKGROUND = (67, 142, 219)  # the common "blue" of Chinese ID photos
ID_COLOURS = {"white": (255, 255, 255), "blue": ID_BACKGROUND, "red": (255, 0, 0)}
ID_SIZES = ((295, 413), (413, 579), (358, 441), (390, 567), (600, 600), (413, 531))
STEPS = ("label", "watermark", "encode", "xmp", "sign", "total")


def natural_image(name: str) -> np.ndarray:
    """A scikit-image sample as 8-bit RGB."""
    array = getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3]).astype(np.uint8)


def id_photo_sample(width: int = 295, height: int = 413) -> Image.Image:
    """A synthetic ID photo: the astronaut's head and shoulders on exactly uniform blue."""
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:] = ID_BACKGROUND
    person_h = int(height * 0.85)
    person = cv2.resize(
        natural_image("astronaut")[0:400, 60:400], (width, person_h), interpolation=cv2.INTER_AREA
    )
    yy, xx = np.mgrid[0:person_h, 0:width]
    across = (xx - width / 2) / (width * 0.42)
    down = (yy - person_h * 0.55) / (person_h * 0.6)
    inside = across**2 + down**2 < 1
    canvas[height - person_h :][inside] = person[inside]
    return Image.fromarray(canvas)


def _random_shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    image = np.full((h, w, 3), rng.uniform(0, 255, 3)).astype(np.uint8)
    for _ in range(int(rng.integers(3, 30))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        origin = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        other = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        shape = int(rng.integers(0, 4))
        if shape == 0:
            cv2.circle(image, origin, int(rng.integers(5, 150)), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(image, origin, other, colour, -1)
        elif shape == 2:
            cv2.line(image, origin, other, colour, int(rng.integers(1, 12)), cv2.LINE_AA)
        else:
            scale = float(rng.uniform(0.5, 3))
            cv2.putText(
                image,
                f"Sitter {rng.integers(1000)}",
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                colour,
                2,
                cv2.LINE_AA,
            )
    return image


def unmarked_images(count: int = 200, seed: int = 0) -> Iterator[Image.Image]:
    """Varied images that carry no watermark, 256 to 640 pixels a side.

    Five kinds in turn: crops of natural photos (resized, sometimes flipped), Gaussian noise at
    random levels and blurs, linear and radial gradients, random shapes and text, and smooth
    colour fields; 30% are then JPEG-compressed at a random quality.
    """
    rng = np.random.default_rng(seed)
    cache: dict[str, np.ndarray] = {}
    for index in range(count):
        h, w = (int(v) for v in rng.integers(256, 641, 2))
        kind = index % 5
        if kind == 0:
            name = NATURAL_IMAGES[int(rng.integers(len(NATURAL_IMAGES)))]
            if name not in cache:
                cache[name] = natural_image(name)
            source = cache[name]
            sh, sw = source.shape[:2]
            ch, cw = int(rng.integers(sh // 2, sh + 1)), int(rng.integers(sw // 2, sw + 1))
            y0, x0 = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
            image = cv2.resize(
                source[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA
            )
            if rng.random() < 0.5:
                image = image[:, ::-1]
            if rng.random() < 0.3:
                image = image[::-1]
        elif kind == 1:
            image = rng.normal(128, rng.uniform(2, 60), (h, w, 3))
            sigma = rng.uniform(0, 4)
            if sigma > 0.3:
                image = cv2.GaussianBlur(image, (0, 0), sigma)
        elif kind == 2:
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
            if rng.random() < 0.5:
                ramp = xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)
            else:
                ramp = np.hypot(xx - rng.random(), yy - rng.random())
            ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-9)
            image = start + (end - start) * ramp[..., None]
            image = image + rng.normal(0, rng.uniform(0, 3), (h, w, 3))
        elif kind == 3:
            image = _random_shapes(rng, h, w)
        else:
            coarse = rng.uniform(0, 255, (max(2, h // 64), max(2, w // 64), 3))
            image = cv2.GaussianBlur(
                cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 8
            )
            image = image + rng.normal(0, rng.uniform(0, 4), (h, w, 3))
        pil = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
        if rng.random() < 0.3:
            pil = jpeg(pil, int(rng.integers(50, 96)))
        yield pil


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """Save as JPEG at ``quality`` and decode again."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def resized(image: Image.Image, factor: float) -> Image.Image:
    """Scale down by ``factor`` and back up to the original size."""
    w, h = image.size
    small = image.resize((round(w * factor), round(h * factor)), Image.Resampling.BILINEAR)
    return small.resize((w, h), Image.Resampling.BILINEAR)


def cropped(image: Image.Image, share: float) -> Image.Image:
    """Cut ``share`` of the width and of the height, half from each side (no rescale)."""
    w, h = image.size
    dx, dy = round(w * share / 2), round(h * share / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def png_resaved(image: Image.Image) -> Image.Image:
    """Save as PNG and decode again."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda image: image,
    "jpeg90": lambda image: jpeg(image, 90),
    "jpeg75": lambda image: jpeg(image, 75),
    "jpeg50": lambda image: jpeg(image, 50),
    "resize75": lambda image: resized(image, 0.75),
    "resize50": lambda image: resized(image, 0.5),
    "crop5": lambda image: cropped(image, 0.05),
    "crop10": lambda image: cropped(image, 0.10),
    "brightness+10": lambda image: ImageEnhance.Brightness(image).enhance(1.1),
    "brightness-10": lambda image: ImageEnhance.Brightness(image).enhance(0.9),
    "png": png_resaved,
    "resize50+jpeg75": lambda image: jpeg(resized(image, 0.5), 75),
}


def psnr(original: Image.Image, marked: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two RGB images."""
    a = np.asarray(original.convert("RGB"), dtype=np.float64)
    b = np.asarray(marked.convert("RGB"), dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


def time_chain(size: int, repeats: int) -> dict[str, float]:
    """Median milliseconds of each chain step for a size x size JPEG portrait."""
    image = Image.fromarray(natural_image("astronaut")).resize((size, size))
    config = ProvenanceConfig(material=create_signing_chain())
    runs = [
        apply_provenance(image, render_id=run, style="bench", base_model="bench", config=config)
        for run in range(repeats + 1)
    ][1:]  # the first run warms caches (font, layout, native library)
    return {step: round(statistics.median(r.timings[step] for r in runs), 1) for step in STEPS}


def robustness(size: int = 512) -> tuple[dict[str, dict[str, float]], float]:
    """Per edit: mean and worst bit accuracy and the share of marks still identified.

    Over the natural samples at ``size`` x ``size`` and one 295x413 synthetic ID photo.
    """
    rng = np.random.default_rng(7)
    results: dict[str, list[tuple[float, bool]]] = {name: [] for name in ATTACKS}
    psnrs = []
    samples = [
        Image.fromarray(natural_image(name)).resize((size, size), Image.Resampling.LANCZOS)
        for name in ROBUSTNESS_IMAGES
    ]
    for image in [*samples, id_photo_sample()]:
        render_id = int(rng.integers(0, 2**32))
        bits = watermark.payload_for_render(render_id)
        marked = watermark.DEFAULT_BACKEND.embed(image, bits)
        psnrs.append(psnr(image, marked))
        for attack, edit in ATTACKS.items():
            edited = edit(marked)
            reading = watermark.DEFAULT_BACKEND.read(edited)
            detection = watermark.detect(edited)
            results[attack].append(
                (float(np.mean(reading.bits == bits)), detection.render_id == render_id)
            )
    table = {
        attack: {
            "bit_accuracy_mean": round(float(np.mean([acc for acc, _ in rows])), 3),
            "bit_accuracy_min": round(float(np.min([acc for acc, _ in rows])), 3),
            "detected": round(float(np.mean([found for _, found in rows])), 3),
        }
        for attack, rows in results.items()
    }
    return table, round(float(np.min(psnrs)), 2)


def flat_backgrounds() -> dict[str, dict[str, float]]:
    """Per background colour, over the six ID sizes: marks found in the PNG, the lowest
    synchronisation score and the largest channel change outside the label.

    Each image is the background and the label only, as when the ID-photo module finds no face.
    """
    rng = np.random.default_rng(11)
    table = {}
    for name, colour in ID_COLOURS.items():
        found, scores, change = [], [], 0
        for size in ID_SIZES:
            render_id = int(rng.integers(0, 2**32))
            plain = Image.new("RGB", size, colour)
            marked = png_resaved(
                watermark.DEFAULT_BACKEND.embed(
                    apply_label(plain), watermark.payload_for_render(render_id)
                )
            )
            detection = watermark.detect(marked)
            found.append(detection.render_id == render_id)
            scores.append(detection.sync_score)
            outside = np.ones(size[::-1], bool)
            left, top, right, bottom = label_box(size)
            outside[top:bottom, left:right] = False
            difference = np.asarray(marked, int) - np.asarray(plain, int)
            change = max(change, int(np.abs(difference[outside]).max()))
        table[name] = {
            "detected": round(float(np.mean(found)), 3),
            "sync_score_min": round(float(np.min(scores)), 1),
            "max_change": change,
        }
    return table


def unmarked_flat_images() -> Iterator[Image.Image]:
    """Plain colours and noiseless gradients at the ID sizes, each bare and with the label."""
    rng = np.random.default_rng(5)
    colours = [*ID_COLOURS.values(), (0, 0, 0), (128, 128, 128)]
    for width, height in ID_SIZES:
        yy, xx = np.mgrid[0:height, 0:width]
        images = [Image.new("RGB", (width, height), colour) for colour in colours]
        for _ in range(3):
            start, slope = rng.uniform(0, 255, 3), rng.uniform(-0.4, 0.4, (2, 3))
            ramp = start + xx[..., None] * slope[0] + yy[..., None] * slope[1]
            images.append(Image.fromarray(np.clip(ramp, 0, 255).astype(np.uint8), "RGB"))
        for image in images:
            yield image
            yield apply_label(image)


def false_positive_rate(count: int = 200) -> float:
    """Share of unmarked images in which a valid watermark is (wrongly) found."""
    hits = sum(watermark.detect(image).found for image in unmarked_images(count))
    return hits / count


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table, or one JSON line with --json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--repeats", type=int, default=7, help="timed chain runs per size")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    timings = {str(size): time_chain(size, args.repeats) for size in (512, 1024)}
    table, min_psnr = robustness()
    flat = flat_backgrounds()
    fpr = false_positive_rate()
    flat_images = list(unmarked_flat_images())
    flat_fpr = sum(watermark.detect(image).found for image in flat_images) / len(flat_images)
    report = {
        "bench": "provenance",
        "threads": 1,
        "chain_ms": timings,
        "watermark": {
            "backend": watermark.DEFAULT_BACKEND.name,
            "psnr_db_min": min_psnr,
            "robustness": table,
            "flat_backgrounds": flat,
            "false_positive_rate": fpr,
            "unmarked_images": 200,
            "flat_false_positive_rate": flat_fpr,
            "unmarked_flat_images": len(flat_images),
        },
    }
    if args.json:
        print(json.dumps(report))
        return
    print("chain timings, ms (median, one thread)")
    print(f"{'size':>6} " + " ".join(f"{step:>9}" for step in STEPS))
    for size, row in timings.items():
        print(f"{size:>6} " + " ".join(f"{row[step]:>9.1f}" for step in STEPS))
    print(
        f"\nwatermark {watermark.DEFAULT_BACKEND.name}, {len(ROBUSTNESS_IMAGES)} images at "
        f"512² and a 295x413 ID photo, min PSNR {min_psnr} dB"
    )
    print(f"{'edit':<16} {'bits mean':>9} {'bits min':>9} {'detected':>9}")
    for attack, row in table.items():
        print(
            f"{attack:<16} {row['bit_accuracy_mean']:>9.3f} {row['bit_accuracy_min']:>9.3f} "
            f"{row['detected']:>9.3f}"
        )
    print(f"\nflat ID backgrounds with the label only, {len(ID_SIZES)} sizes each, PNG")
    print(f"{'colour':<16} {'detected':>9} {'score min':>9} {'max change':>10}")
    for colour, row in flat.items():
        print(
            f"{colour:<16} {row['detected']:>9.3f} {row['sync_score_min']:>9.1f} "
            f"{row['max_change']:>10d}"
        )
    print(f"\nfalse positives on 200 unmarked images: {fpr:.3f}")
    print(f"false positives on {len(flat_images)} unmarked flat images: {flat_fpr:.3f}")


if __name__ == "__main__":
    main()
