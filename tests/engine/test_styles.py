"""Styles as data: the built-in set, an operator's folder, and validation messages."""

import dataclasses
import json

import pytest

from portrait.engine.idphoto import BACKGROUNDS, ID_SPECS
from portrait.engine.styles import BUILTIN_DIR, StyleError, load_styles

REQUIRED_SLUGS = {
    "id_photo",
    "business",
    "hanfu",
    "tang_court",
    "qipao",
    "graduation",
    "wedding",
    "bw_film",
    "watercolour",
}


def _style(**overrides):
    data = {
        "slug": "garden",
        "name": {"en": "Garden", "zh-hans": "花园"},
        "description": {"en": "Outdoors.", "zh-hans": "户外。"},
        "prompt": "{subject} in a garden",
        "negative_prompt": "blurry",
        "width": 512,
        "height": 640,
        "steps": 25,
        "guidance": 7,
        "candidates": 3,
    }
    data.update(overrides)
    return data


def _write(folder, data, name=None):
    folder.mkdir(exist_ok=True)
    path = folder / f"{name or data['slug']}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_builtin_styles_cover_the_studio_menu():
    styles = load_styles(BUILTIN_DIR)
    assert len(styles) >= 10
    assert set(styles) >= REQUIRED_SLUGS


def test_only_the_id_photo_style_has_id_photo_defaults():
    styles = load_styles(BUILTIN_DIR)
    assert set(styles["id_photo"].id_photo) == {"spec", "background"}
    assert [slug for slug, style in styles.items() if style.id_photo] == ["id_photo"]


def test_id_photo_defaults_name_a_known_spec_and_background():
    defaults = load_styles(BUILTIN_DIR)["id_photo"].id_photo
    assert defaults["spec"] in ID_SPECS
    assert defaults["background"] in BACKGROUNDS


def test_prompt_for_puts_the_caption_in_place_of_the_subject():
    style = load_styles(BUILTIN_DIR)["hanfu"]
    prompt = style.prompt_for("a photo of ohwx person")
    assert prompt.startswith("a photo of ohwx person, wearing traditional hanfu")
    assert "{subject}" not in prompt


def test_names_and_descriptions_come_in_english_and_chinese():
    style = load_styles(BUILTIN_DIR)["qipao"]
    assert style.name_for("en") == "Qipao"
    assert style.name_for("zh-hans") == style.name_for("zh-CN") == "旗袍"
    assert style.description_for("fr") == style.description["en"]


def test_sdxl_renders_at_twice_the_width_and_height(tmp_path):
    style = load_styles(_write(tmp_path, _style()).parent)["garden"]
    assert style.size_for("sd15") == (512, 640)
    assert style.size_for("sdxl") == (1024, 1280)


def test_a_later_folder_adds_styles_and_overrides_by_slug(tmp_path):
    _write(tmp_path, _style(slug="hanfu", steps=40))
    _write(tmp_path, _style())
    styles = load_styles(BUILTIN_DIR, tmp_path)
    assert styles["hanfu"].steps == 40
    assert "garden" in styles
    assert styles["qipao"] == load_styles(BUILTIN_DIR)["qipao"]


def test_styles_are_immutable(tmp_path):
    style = load_styles(_write(tmp_path, _style()).parent)["garden"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        style.steps = 1
    with pytest.raises(TypeError):
        style.name["en"] = "Other"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("width", 500, "multiple of 8"),
        ("steps", "many", "must be a int"),
        ("guidance", True, "must be a int or float"),
        ("prompt", "a portrait", "{subject}"),
        ("name", {"en": "Garden"}, "'zh-hans'"),
        ("slug", "Garden Party", "lower-case"),
        ("id_photo", {"spec": "cn_1inch"}, "'background'"),
        ("colour", "red", "not a style field"),
    ],
)
def test_invalid_field_is_named_with_its_file(tmp_path, field, value, problem):
    path = _write(tmp_path, _style(**{field: value}), name="garden")
    with pytest.raises(StyleError) as error:
        load_styles(tmp_path)
    message = str(error.value)
    assert str(path) in message
    assert f"field '{field}'" in message
    assert problem in message


def test_missing_field_is_named(tmp_path):
    data = _style()
    del data["negative_prompt"]
    _write(tmp_path, data)
    with pytest.raises(StyleError, match="field 'negative_prompt': is missing"):
        load_styles(tmp_path)


def test_broken_json_names_the_file(tmp_path):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StyleError, match="broken.json"):
        load_styles(tmp_path)


def test_duplicate_slug_in_one_folder_is_refused(tmp_path):
    _write(tmp_path, _style(), name="one")
    _write(tmp_path, _style(), name="two")
    with pytest.raises(StyleError, match="slug"):
        load_styles(tmp_path)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(StyleError, match="not a folder"):
        load_styles(tmp_path / "absent")


def test_style_lora_is_a_file_beside_the_style(tmp_path):
    (tmp_path / "garden.safetensors").write_bytes(b"weights")
    _write(tmp_path, _style(style_lora="garden.safetensors", style_lora_scale=0.8))
    style = load_styles(tmp_path)["garden"]
    assert style.style_lora == (tmp_path / "garden.safetensors").resolve()
    assert style.style_lora_scale == 0.8


@pytest.mark.parametrize("name", ["absent.safetensors", "../outside.safetensors"])
def test_style_lora_must_exist_inside_the_folder(tmp_path, name):
    (tmp_path / "outside.safetensors").write_bytes(b"weights")
    _write(tmp_path / "styles", _style(style_lora=name))
    with pytest.raises(StyleError, match="field 'style_lora'"):
        load_styles(tmp_path / "styles")


def test_styles_without_a_lora_have_none():
    assert all(style.style_lora is None for style in load_styles(BUILTIN_DIR).values())
