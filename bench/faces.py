"""Face analysis speed, and the descriptor distances the face thresholds are chosen from.

Times `analyse_photo` (detection, landmarks, descriptor, quality) on every photo in
shared/faces/known, already decoded, pinned to one CPU core; models are loaded before timing.
`--distances` prints instead the distances between the known photos and from edited copies
(flips, crops, rotations, colour and brightness changes, re-encoding) of one photo to it.

    python -m bench.faces [--json] [--repeat N] [--all-cores] [--distances]
"""

import argparse
import io
import itertools
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from skimage import data as skimage_data

from portrait.engine.faces import FaceThresholds, PhotoAnalysis, analyse_photo, analyse_set, compare
from portrait.engine.images import load_upload

KNOWN_FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "known"
# Files that show the same picture (README of shared/faces; obama_partial_face is a crop of
# obama_1).
SAME_PICTURE = [
    {"obama_1", "obama_5_480p", "obama_6_small", "obama_partial_face"},
    {"obama_2", "obama_rgba"},
    {"biden_1", "group_two_people"},
]


def known_photos() -> dict[str, Image.Image]:
    paths = sorted(p for p in KNOWN_FACES.iterdir() if p.suffix in (".jpg", ".png"))
    return {path.stem: load_upload(path.read_bytes()) for path in paths}


def measure_speed(photos: dict[str, Image.Image], repeat: int) -> dict:
    analyse_photo(next(iter(photos.values())))  # load the models
    per_photo = {}
    for name, image in photos.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            analyse_photo(image)
            times.append(time.perf_counter() - started)
        per_photo[name] = statistics.median(times) * 1000
    values = sorted(per_photo.values())
    return {
        "photos": len(values),
        "median_ms": round(statistics.median(values), 1),
        "p90_ms": round(values[min(len(values) - 1, int(0.9 * len(values)))], 1),
        "max_ms": round(values[-1], 1),
        "per_photo_ms": {name: round(ms, 1) for name, ms in per_photo.items()},
    }


def _person(stem: str) -> str:
    return "obama" if stem.startswith("obama") else stem.rsplit("_", 1)[0]


def _hash_bits(a: PhotoAnalysis, b: PhotoAnalysis) -> int:
    return min(
        (a.fingerprint ^ b.fingerprint).bit_count(),
        (a.fingerprint ^ b.mirrored_fingerprint).bit_count(),
    )


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).convert("RGB")


def _tint(image: Image.Image, factors: tuple[float, float, float]) -> Image.Image:
    scaled = np.asarray(image, np.float32) * np.array(factors, np.float32)
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))


EDITS = {
    "resized to 50%": lambda im: im.resize((im.width // 2, im.height // 2), Image.LANCZOS),
    "re-encoded JPEG q60": lambda im: _jpeg(im, 60),
    "mirrored": ImageOps.mirror,
    "cropped 10% left": lambda im: im.crop((im.width // 10, 0, im.width, im.height)),
    "cropped 25% bottom": lambda im: im.crop((0, 0, im.width, im.height * 3 // 4)),
    "rotated +5°": lambda im: im.rotate(5, Image.Resampling.BICUBIC),
    "rotated -5°": lambda im: im.rotate(-5, Image.Resampling.BICUBIC),
    "brightness x0.8": lambda im: ImageEnhance.Brightness(im).enhance(0.8),
    "brightness x1.2": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "contrast x1.2": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
    "saturation x0.5": lambda im: ImageEnhance.Color(im).enhance(0.5),
    "greyscale": lambda im: im.convert("L").convert("RGB"),
    "warm tint": lambda im: _tint(im, (1.1, 1.0, 0.85)),
    "cool tint": lambda im: _tint(im, (0.9, 1.0, 1.12)),
    "mirrored+rotated+cropped+tinted": lambda im: _tint(
        ImageOps.mirror(im)
        .rotate(5, Image.Resampling.BICUBIC)
        .crop((im.width // 10, im.height // 20, im.width, im.height)),
        (1.1, 1.0, 0.9),
    ),
}


def measure_distances(photos: dict[str, Image.Image]) -> dict:
    limits = FaceThresholds()
    analyses = {name: analyse_photo(image) for name, image in photos.items()}
    described = {n: a for n, a in analyses.items() if a.descriptor is not None}
    groups: dict[str, list[tuple[float, int, str]]] = {
        "same picture": [],
        "same person": [],
        "different": [],
    }
    for (name_a, a), (name_b, b) in itertools.combinations(described.items(), 2):
        if any({name_a, name_b} <= picture for picture in SAME_PICTURE):
            group = "same picture"
        elif _person(name_a) == _person(name_b):
            group = "same person"
        else:
            group = "different"
        groups[group].append((compare(a.descriptor, b.descriptor), _hash_bits(a, b), name_a))

    summary = {
        group: {
            "pairs": len(rows),
            "distance": [round(min(r[0] for r in rows), 3), round(max(r[0] for r in rows), 3)],
            "hash_bits": [min(r[1] for r in rows), max(r[1] for r in rows)],
        }
        for group, rows in groups.items()
    }

    distinct = ["obama_1", "obama_2", "obama_3", "obama_4"]
    reference = analyse_set([analyses[n] for n in distinct]).reference_descriptor
    strangers = [n for n in described if _person(n) != "obama"]
    summary["to the mean of obama_1-4"] = {
        "those four": [round(compare(analyses[n].descriptor, reference), 3) for n in distinct],
        "nearest stranger": round(
            min(compare(analyses[n].descriptor, reference) for n in strangers), 3
        ),
    }

    sources = {"obama_1": photos["obama_1"], "astronaut": Image.fromarray(skimage_data.astronaut())}
    edits = {}
    for source_name, source in sources.items():
        original = analyse_photo(source)
        rows = {}
        for edit_name, edit in EDITS.items():
            copy = analyse_photo(edit(source))
            if copy.descriptor is None:
                rows[edit_name] = {"reasons": [r.code for r in copy.reasons]}
                continue
            rows[edit_name] = {
                "distance": round(compare(original.descriptor, copy.descriptor), 3),
                "hash_bits": _hash_bits(original, copy),
                "near_duplicate": _would_be_near_duplicates(original, copy, limits),
                "reasons": [r.code for r in copy.reasons],
            }
        edits[source_name] = rows
    summary["edited copies"] = edits
    return summary


def _would_be_near_duplicates(a: PhotoAnalysis, b: PhotoAnalysis, limits) -> bool:
    """analyse_set's near-duplicate verdict, as if both photos had passed the photo checks
    (the astronaut's face is too small to pass them)."""
    return (
        compare(a.descriptor, b.descriptor) <= limits.near_duplicate_distance
        or _hash_bits(a, b) <= limits.near_duplicate_hash_bits
    )


def print_speed(figures: dict) -> None:
    print(f"{'photo':<34}{'ms':>8}")
    for name, ms in figures["per_photo_ms"].items():
        print(f"{name:<34}{ms:>8.1f}")
    print(f"{'median':<34}{figures['median_ms']:>8.1f}")
    print(f"{'p90':<34}{figures['p90_ms']:>8.1f}")


def print_distances(figures: dict) -> None:
    print(f"{'pairs of known photos':<28}{'n':>5}{'distance':>16}{'hash bits':>12}")
    for group in ("same picture", "same person", "different"):
        row = figures[group]
        low, high = row["distance"]
        print(
            f"{group:<28}{row['pairs']:>5}{low:>9.3f}-{high:.3f}{row['hash_bits'][0]:>7}-"
            f"{row['hash_bits'][1]}"
        )
    mean = figures["to the mean of obama_1-4"]
    print(
        f"\nto the mean of obama_1-4: those four {mean['those four']}, "
        f"nearest stranger {mean['nearest stranger']}"
    )
    for source, rows in figures["edited copies"].items():
        print(f"\nedited copies of {source}{'distance':>24}{'bits':>6}  near-dup  photo check")
        for edit, row in rows.items():
            if "distance" not in row:
                print(f"  {edit:<38}{'-':>8}{'-':>6}  {'-':<8}  {', '.join(row['reasons'])}")
                continue
            verdict = "yes" if row["near_duplicate"] else "NO"
            checks = ", ".join(row["reasons"]) or "accepted"
            print(
                f"  {edit:<38}{row['distance']:>8.3f}{row['hash_bits']:>6}  {verdict:<8}  {checks}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per photo")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    parser.add_argument("--distances", action="store_true", help="distances, not speed")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    photos = known_photos()
    if args.distances:
        figures = {"bench": "faces.distances", **measure_distances(photos)}
        printer = print_distances
    else:
        figures = {
            "bench": "faces.speed",
            "cores": "all" if args.all_cores else 1,
            **measure_speed(photos, args.repeat),
        }
        printer = print_speed
    if args.json:
        print(json.dumps(figures))
    else:
        printer(figures)


if __name__ == "__main__":
    main()
