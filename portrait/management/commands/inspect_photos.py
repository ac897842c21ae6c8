"""Check a folder of photos as the upload would, without storing anything.

Operators use it to see why a person's photos are refused, and to check the face thresholds
(``SITTER_FACE_THRESHOLDS``) on their own photos. Every file is read into memory, analysed and
dropped: nothing is encrypted, stored, logged or written.
"""

import json
import math
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portrait.engine import faces, images
from portrait.services import face_thresholds


class Command(BaseCommand):
    help = (
        "Print each photo's verdict and reasons, whether the set shows one person (outliers, "
        "near-duplicates) and whether --selfie matches it. Stores nothing. Exit status 0 "
        "when every photo (and the selfie) passes, 1 when something is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path, help="a folder of photos (every file in it)")
        parser.add_argument("--selfie", type=Path, help="a verification selfie to match")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        folder, selfie = options["dir"], options["selfie"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder", returncode=2)
        if selfie is not None and not selfie.is_file():
            raise CommandError(f"{selfie} is not a file", returncode=2)
        paths = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if not paths:
            raise CommandError(f"no files in {folder}", returncode=2)

        report = inspect(paths, selfie, face_thresholds())
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self.stdout.write(as_text(report))
        if not passed(report):
            raise SystemExit(1)


def _load(path):
    """The photo as an upload would see it, or the Reason it is refused before face checks."""
    limit = settings.SITTER_MAX_UPLOAD_BYTES
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    try:
        return images.load_upload(
            data, max_bytes=limit, max_pixels=settings.SITTER_MAX_UPLOAD_PIXELS
        ), None
    except images.ImageRejected as rejected:
        return None, rejected.reason


def inspect(paths, selfie, thresholds):
    """The report as a JSON-ready dict (the command's ``--json`` output)."""
    photos, analyses, numbers = [], [], []
    for number, path in enumerate(paths, start=1):
        image, reason = _load(path)
        entry = {"file": path.name, "accepted": False, "faces": None, "reasons": [], "codes": []}
        if image is None:
            _add_reason(entry, reason)
        else:
            analysis = faces.analyse_photo(image, thresholds)
            entry["faces"] = analysis.faces
            analyses.append(analysis)
            numbers.append(number)
        photos.append(entry)

    set_report = faces.analyse_set(analyses, thresholds)
    for position, reasons in enumerate(set_report.reasons):
        entry = photos[numbers[position] - 1]
        for reason in reasons:
            if reason.code == "near_duplicate":
                # The engine numbers the analysed photos; the person sees the folder's order.
                reason = images.Reason("near_duplicate", {"of": numbers[reason.params["of"] - 1]})
            _add_reason(entry, reason)
        entry["accepted"] = not reasons

    def file_at(position):
        return photos[numbers[position] - 1]["file"]

    return {
        "photos": photos,
        "same_person": set_report.same_person,
        "outliers": [file_at(position) for position in set_report.outliers],
        "near_duplicates": [
            {"file": file_at(later), "same_as": file_at(earlier)}
            for earlier, later in set_report.duplicates
        ],
        "selfie_match": None if selfie is None else _selfie_match(selfie, set_report, thresholds),
    }


def _add_reason(entry, reason):
    entry["reasons"].append(reason.message)
    entry["codes"].append(reason.code)


def _selfie_match(path, set_report, thresholds):
    result = {"file": path.name, "matched": False, "distance": None, "reasons": []}
    image, reason = _load(path)
    if image is None:
        result["reasons"].append(reason.message)
        return result
    analysis = faces.analyse_photo(image, thresholds)
    if not analysis.accepted:
        result["reasons"] += [r.message for r in analysis.reasons]
        return result
    match = set_report.selfie_match(analysis.descriptor)
    result["matched"] = match.matched
    result["distance"] = round(match.distance, 3) if math.isfinite(match.distance) else None
    if match.reason is not None:
        result["reasons"].append(match.reason.message)
    return result


def passed(report):
    selfie = report["selfie_match"]
    return (
        all(photo["accepted"] for photo in report["photos"])
        and report["same_person"]
        and (selfie is None or selfie["matched"])
    )


def as_text(report):
    lines = []
    for number, photo in enumerate(report["photos"], start=1):
        verdict = "accepted" if photo["accepted"] else "refused: " + "; ".join(photo["reasons"])
        lines.append(f"#{number} {photo['file']}: {verdict}")
    lines.append("set: " + ("one person" if report["same_person"] else "NOT one person"))
    if report["outliers"]:
        lines.append("  different person: " + ", ".join(report["outliers"]))
    for pair in report["near_duplicates"]:
        lines.append(f"  near-duplicate: {pair['file']} is the same photo as {pair['same_as']}")
    selfie = report["selfie_match"]
    if selfie is not None:
        if selfie["matched"]:
            verdict = f"matches (distance {selfie['distance']})"
        else:
            distance = f" (distance {selfie['distance']})" if selfie["distance"] is not None else ""
            verdict = "does not match" + distance + ": " + "; ".join(selfie["reasons"])
        lines.append(f"selfie {selfie['file']}: {verdict}")
    return "\n".join(lines)
