"""``manage.py verify_output FILE [--json]``: the operator's check of an image, render included."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import Action, AuditEvent, Role

pytest_plugins = ["tests.rendered_portrait"]


def run(path, *args):
    out = io.StringIO()
    call_command("verify_output", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def image_file(tmp_path):
    def write(data, name="portrait.jpg"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def test_json_form_of_an_output_made_here(image_file, rendered_portrait, made_here):
    answer = json.loads(run(image_file(rendered_portrait.data), "--json"))
    assert set(answer) == {"c2pa", "xmp_label", "watermark"}
    assert set(answer["c2pa"]) == {"state", "generator", "source_type"}
    assert answer["c2pa"]["state"] == "Trusted"
    assert answer["c2pa"]["generator"].startswith("Sitter ")
    assert answer["c2pa"]["source_type"].endswith("trainedAlgorithmicMedia")
    assert answer["xmp_label"] is True
    assert answer["watermark"]["found"] is True
    assert len(answer["watermark"]["payload"]) == 12  # 48 bits in hex
    assert answer["watermark"]["render"] == str(made_here.render_id)


def test_a_reencoded_copy_is_traced_by_its_watermark(image_file, reencoded_portrait, made_here):
    answer = json.loads(run(image_file(reencoded_portrait), "--json"))
    assert answer["c2pa"] == {"state": "absent", "generator": None, "source_type": None}
    assert answer["xmp_label"] is False
    assert answer["watermark"]["render"] == str(made_here.render_id)


def test_a_photo_made_elsewhere_has_no_watermark(image_file, stranger_photo, made_here):
    answer = json.loads(run(image_file(stranger_photo), "--json"))
    assert answer["watermark"] == {"found": False, "payload": None, "render": None}


def test_human_readable_form(image_file, rendered_portrait, made_here):
    text = run(image_file(rendered_portrait.data))
    assert "C2PA:       Trusted" in text
    assert "style:       business" in text
    assert "XMP label:  present" in text
    assert f"render:     {made_here.render_id}" in text


def test_naming_the_render_is_audit_logged(image_file, rendered_portrait, made_here):
    run(image_file(rendered_portrait.data), "--json")
    event = AuditEvent.objects.get(action=Action.STAFF_VIEWED)
    assert (event.object_type, event.role) == ("render", Role.SYSTEM)


def test_garbage_exits_non_zero(image_file, db, signing):
    with pytest.raises(CommandError, match="not a JPEG or PNG") as error:
        run(image_file(b"garbage, not an image", name="garbage.png"))
    assert error.value.returncode == 1


def test_a_missing_file_exits_non_zero(tmp_path, db):
    with pytest.raises(CommandError, match="cannot read"):
        run(tmp_path / "nowhere.jpg")
