"""A person's data export (GDPR Art. 15 and 20): one ZIP of their consent receipts, the
metadata Sitter holds of them, and their portraits and any uploads still held, decrypted.

The ZIP is streamed while it is built: each image is decrypted from the vault piece by piece
straight into the response, so neither plaintext nor the archive touches disk, and memory
holds one piece at a time whatever the size of the export. The export holds no face
descriptor: the selfie's is biometric data that is of no use outside Sitter, so the metadata
says only whether it is held.
"""

import json
import zipfile
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action
from consent.models import ConsentRecord, ErasureRequest

from . import vault
from .models import Subject

PIECE = 256 * 1024
FORMAT = "sitter.export"


class _Pipe:
    """The write-only file a ZipFile writes into; the generator hands on what it wrote."""

    def __init__(self):
        self._pieces = []

    def write(self, data):
        self._pieces.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


@dataclass
class Export:
    filename: str
    made_at: tuple  # the files' time in the ZIP: (year, month, day, hours, minutes, seconds)
    documents: dict  # path in the ZIP -> JSON-ready data
    images: list  # (path in the ZIP, blob name)

    def chunks(self):
        """The ZIP's bytes, piece by piece."""
        pipe = _Pipe()
        with zipfile.ZipFile(pipe, "w") as archive:
            for path, document in self.documents.items():
                info = zipfile.ZipInfo(path, self.made_at)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(
                    info, json.dumps(document, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
                )
                yield pipe.take()
            for path, blob in self.images:
                # Stored, not deflated: JPEG and PNG are compressed already.
                info = zipfile.ZipInfo(path, self.made_at)
                with vault.open_blob(blob) as source, archive.open(info, "w") as entry:
                    for piece in iter(lambda source=source: source.read(PIECE), b""):
                        entry.write(piece)
                        yield pipe.take()
        yield pipe.take()


def build_export(user):
    """Gather what the export holds of ``user``, and log the download; the images are read
    only when ``Export.chunks`` is iterated."""
    now = timezone.now()
    subject = Subject.objects.filter(user=user).first()
    images = []
    photos, outputs, clones, refinements, renders, jobs = [], [], [], [], [], []
    if subject is not None:
        for photo in subject.photos.all():
            path = f"photos/{photo.number:03d}.jpg"
            images.append((path, photo.blob))
            photos.append(
                {
                    "number": photo.number,
                    "width": photo.width,
                    "height": photo.height,
                    "quality": photo.quality,
                    "uploaded_at": photo.created_at,
                    "file": path,
                }
            )
        for output in subject.outputs.select_related("render"):
            path = (
                f"portraits/{output.render.created_at:%Y%m%d}-{output.render.style}-"
                f"{str(output.render_id)[:8]}-{output.rank}.{output.extension}"
            )
            images.append((path, output.blob))
            outputs.append(
                {
                    "id": output.pk,
                    "render": output.render_id,
                    "style": output.render.style,
                    "rank": output.rank,
                    "mime": output.mime,
                    "width": output.width,
                    "height": output.height,
                    "seed": output.seed,
                    "settings": output.settings,
                    "likeness_distance": output.likeness_distance,
                    "face_found": output.face_found,
                    "feedback": output.feedback,
                    "created_at": output.created_at,
                    "file": path,
                }
            )
        clones = list(
            subject.clones.values(
                "id",
                "status",
                "base_model",
                "photo_count",
                "steps",
                "seconds",
                "final_loss",
                "config",
                "created_at",
                "finished_at",
            )
        )
        refinements = list(
            subject.refinements.values(
                "id",
                "clone",
                "liked",
                "unliked",
                "steps",
                "likeness_before",
                "likeness_after",
                "kept",
                "created_at",
                "finished_at",
            )
        )
        renders = list(
            subject.renders.values("id", "clone", "style", "options", "seed", "created_at")
        )
        jobs = list(
            subject.jobs.values(
                "id",
                "kind",
                "status",
                "step",
                "total_steps",
                "error_code",
                "queued_at",
                "started_at",
                "finished_at",
            )
        )
    metadata = {
        "format": FORMAT,
        "version": 1,
        "exported_at": now,
        "account": {
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
        },
        "selfie_descriptor_held": bool(subject and subject.selfie_blob),
        "photos": photos,
        "clones": clones,
        "refinements": refinements,
        "renders": renders,
        "outputs": outputs,
        "jobs": jobs,
        "erasure_requests": list(
            ErasureRequest.objects.filter(user=user).values(
                "id",
                "status",
                "channel",
                "requested_at",
                "deadline",
                "extended",
                "extension_reason",
                "completed_at",
            )
        ),
    }
    receipts = [
        record.receipt()
        for record in ConsentRecord.objects.filter(user=user).order_by("created_at")
    ]
    audit(
        Action.EXPORT_DOWNLOADED,
        actor=user,
        obj=user,
        details={"photos": len(photos), "outputs": len(outputs)},
    )
    return Export(
        filename=f"sitter-export-{now:%Y%m%d-%H%M%S}.zip",
        made_at=now.timetuple()[:6],
        documents={"consent-receipts.json": receipts, "metadata.json": metadata},
        images=images,
    )


def export_response(user):
    """The export as a streamed download, never cached on the way."""
    export = build_export(user)
    response = StreamingHttpResponse(export.chunks(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
