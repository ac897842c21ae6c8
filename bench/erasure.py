"""A person's rights, measured: the data export and an erasure request, on a person with
--outputs portraits of --output-mib MiB each (random bytes: incompressible, like JPEGs).

- export: the ZIP streamed from the vault the way the download view streams it, its throughput
  and the peak of the Python heap while it streams (tracemalloc), against the reference of
  building the same ZIP in memory from the same decrypted bytes (``zipfile`` into a BytesIO),
  measured in the same run;
- erasure: filing and processing one request end to end (cancel, crypto-shred, destroy every
  blob and row, log, sign the certificate), and checking its certificate.

On SQLite in a throwaway data folder, with the default blob backend (a local folder).

    python -m bench.erasure [--json] [--outputs N] [--output-mib M]
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

from bench.vault import setup_django

MIB = 1024 * 1024


def make_person(outputs, output_mib):
    from django.contrib.auth import get_user_model

    from portrait import vault
    from portrait.models import Clone, Job, Output, Render, Subject
    from portrait.vault import Kind

    user = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:8]}")
    subject = Subject.objects.create(user=user)
    job = Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, status=Job.Status.DONE)
    clone = Clone.objects.create(
        subject=subject, job=job, status=Clone.Status.READY, base_model="tiny"
    )
    render = Render.objects.create(
        subject=subject,
        clone=clone,
        style="business",
        seed=1,
        job=Job.objects.create(subject=subject, kind=Job.Kind.RENDER, status=Job.Status.DONE),
    )
    for rank in range(1, outputs + 1):
        output = Output(
            subject=subject,
            render=render,
            rank=rank,
            mime="image/jpeg",
            width=1,
            height=1,
            seed=rank,
            watermark_id=rank,
        )
        output.blob = vault.put(subject, Kind.OUTPUT, output.pk, os.urandom(output_mib * MIB))
        output.save()
    return user


def measure_export(user):
    from portrait import vault
    from portrait.export import build_export

    export = build_export(user)
    tracemalloc.start()
    started = time.perf_counter()
    size = sum(len(piece) for piece in export.chunks())
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    tracemalloc.start()
    started = time.perf_counter()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, blob in export.images:
            archive.writestr(path, vault.read(blob))
    reference_seconds = time.perf_counter() - started
    reference_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "zip_mib": round(size / MIB, 1),
        "seconds": round(seconds, 3),
        "mib_per_s": round(size / MIB / seconds, 1),
        "peak_heap_mib": round(peak / MIB, 2),
        "reference_seconds": round(reference_seconds, 3),
        "reference_peak_heap_mib": round(reference_peak / MIB, 2),
        "heap_ratio": round(peak / reference_peak, 4),
    }


def measure_erasure(user):
    from consent import certificates, erasure_requests

    started = time.perf_counter()
    filed, _created = erasure_requests.file_request(user, channel="api")
    status = erasure_requests.process_request(filed.pk)
    seconds = time.perf_counter() - started
    filed.refresh_from_db()
    document = json.dumps(erasure_requests.certificate_document(filed)).encode()
    started = time.perf_counter()
    valid = certificates.verify(document).valid
    verify_ms = (time.perf_counter() - started) * 1000
    return {
        "status": status,
        "seconds": round(seconds, 3),
        "certificate_bytes": len(document),
        "certificate_valid": valid,
        "verify_ms": round(verify_ms, 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--outputs", type=int, default=32)
    parser.add_argument("--output-mib", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sitter-bench-") as scratch:
        setup_django(Path(scratch))
        user = make_person(args.outputs, args.output_mib)
        result = {
            "outputs": args.outputs,
            "output_mib": args.output_mib,
            "export": measure_export(user),
            "erasure": measure_erasure(user),
        }
    if args.json:
        print(json.dumps(result))
        return
    export, erasure = result["export"], result["erasure"]
    print(f"person: {args.outputs} portraits of {args.output_mib} MiB")
    print(
        f"export   {export['zip_mib']:>7} MiB ZIP  {export['seconds']:>7} s  "
        f"{export['mib_per_s']:>6} MiB/s  peak heap {export['peak_heap_mib']} MiB"
    )
    print(
        f"  in-memory reference         {export['reference_seconds']:>7} s  "
        f"peak heap {export['reference_peak_heap_mib']} MiB  "
        f"(streamed/reference {export['heap_ratio']})"
    )
    print(
        f"erasure  {erasure['status']} in {erasure['seconds']} s; certificate "
        f"{erasure['certificate_bytes']} bytes, valid {erasure['certificate_valid']}, "
        f"checked in {erasure['verify_ms']} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
