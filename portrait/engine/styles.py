"""Portrait styles as data: one JSON file per style, validated when loaded.

The built-in styles live in the `styles/` folder beside this module; an operator's folder
(`SITTER_STYLES_DIR`) is loaded after it and may add styles or replace built-ins by slug.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

BUILTIN_DIR = Path(__file__).resolve().parent / "styles"
LANGUAGES = ("en", "zh-hans")
SUBJECT = "{subject}"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# A style's size is for SD 1.5, trained at 512 px; SDXL, trained at 1024 px, renders the same
# shape at twice the width and height.
_SIZE_FACTOR = {"sd15": 1, "sdxl": 2}


class StyleError(ValueError):
    """A style file is unreadable or invalid; the message names the file and the field."""

    def __init__(self, path, problem, field=None):
        self.path = Path(path)
        self.field = field
        where = f"{self.path}: field '{field}'" if field else str(self.path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Style:
    """One portrait style. `name` and `description` map a language code to text."""

    slug: str
    name: MappingProxyType
    description: MappingProxyType
    prompt: str
    negative_prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    candidates: int
    # An absolute path to a style LoRA file, or None.
    style_lora: Path | None = None
    style_lora_scale: float = 1.0
    # ID-photo styles: the default {"spec": ..., "background": ...}, chosen anew per render.
    id_photo: MappingProxyType | None = None

    def prompt_for(self, caption):
        """The style's prompt about the person named by `caption` ("a photo of ohwx person")."""
        return self.prompt.replace(SUBJECT, caption)

    def name_for(self, language):
        """The style's name in `language` (a Django language code), English by default."""
        return _localized(self.name, language)

    def description_for(self, language):
        """The style's description in `language`, English by default."""
        return _localized(self.description, language)

    def size_for(self, family):
        """(width, height) to render at for a model family ("sd15" or "sdxl")."""
        factor = _SIZE_FACTOR[family]
        return self.width * factor, self.height * factor


def _localized(texts, language):
    """The text in `language` ("zh-hans", "zh-Hans", "zh-cn" and "zh" all give Chinese), else
    English."""
    language = (language or "en").lower()
    if language.startswith("zh"):
        return texts["zh-hans"]
    return texts["en"]


def load_styles(*dirs):
    """{slug: Style} from the JSON files in `dirs`; a later folder's style replaces an earlier
    one with the same slug. Raises `StyleError` for any invalid file or missing folder."""
    styles = {}
    for directory in map(Path, dirs):
        if not directory.is_dir():
            raise StyleError(directory, "is not a folder of style files")
        seen = {}
        for path in sorted(directory.glob("*.json")):
            style = load_style(path)
            if style.slug in seen:
                raise StyleError(path, f"the slug is also used by {seen[style.slug].name}", "slug")
            seen[style.slug] = path
            styles[style.slug] = style
    return styles


def load_style(path):
    """Read and validate one style file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StyleError(path, f"cannot be read as JSON ({error})") from None
    if not isinstance(data, dict):
        raise StyleError(path, "must hold a JSON object")
    return _Validator(path, data).style()


class _Validator:
    _FIELDS = {
        "slug",
        "name",
        "description",
        "prompt",
        "negative_prompt",
        "width",
        "height",
        "steps",
        "guidance",
        "candidates",
        "style_lora",
        "style_lora_scale",
        "id_photo",
    }

    def __init__(self, path, data):
        self.path = path
        self.data = data

    def fail(self, field, problem):
        raise StyleError(self.path, problem, field)

    def get(self, field, kind, required=True):
        if field not in self.data:
            if required:
                self.fail(field, "is missing")
            return None
        value = self.data[field]
        # bool is an int in Python; a style's numbers are never booleans.
        if isinstance(value, bool) or not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            self.fail(field, f"must be a {names}, not {type(value).__name__}")
        return value

    def integer(self, field, low, high, multiple=1):
        value = self.get(field, int)
        if not low <= value <= high or value % multiple:
            rule = f" and a multiple of {multiple}" if multiple > 1 else ""
            self.fail(field, f"must be between {low} and {high}{rule}, not {value}")
        return value

    def number(self, field, low, high, required=True, default=None):
        value = self.get(field, (int, float), required)
        if value is None:
            return default
        if not low <= value <= high:
            self.fail(field, f"must be between {low} and {high}, not {value}")
        return float(value)

    def texts(self, field):
        value = self.get(field, dict)
        for language in LANGUAGES:
            if not isinstance(value.get(language), str) or not value[language].strip():
                self.fail(field, f"needs a non-empty '{language}' text")
        return MappingProxyType(dict(value))

    def style_lora(self):
        name = self.get("style_lora", str, required=False)
        if name is None:
            return None
        folder = self.path.parent.resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder):
            self.fail("style_lora", "must name a file inside the styles folder")
        if not path.is_file():
            self.fail("style_lora", f"no file {path}")
        return path

    def id_photo(self):
        value = self.get("id_photo", dict, required=False)
        if value is None:
            return None
        for key in ("spec", "background"):
            if not isinstance(value.get(key), str) or not value[key]:
                self.fail("id_photo", f"needs a '{key}' name")
        return MappingProxyType(dict(value))

    def style(self):
        unknown = sorted(set(self.data) - self._FIELDS)
        if unknown:
            self.fail(unknown[0], "is not a style field")
        slug = self.get("slug", str)
        if not _SLUG.match(slug):
            self.fail("slug", "must be lower-case letters, digits, '-' or '_'")
        prompt = self.get("prompt", str)
        if SUBJECT not in prompt:
            self.fail("prompt", f"must contain {SUBJECT}, where the person goes")
        return Style(
            slug=slug,
            name=self.texts("name"),
            description=self.texts("description"),
            prompt=prompt,
            negative_prompt=self.get("negative_prompt", str),
            width=self.integer("width", 256, 2048, multiple=8),
            height=self.integer("height", 256, 2048, multiple=8),
            steps=self.integer("steps", 1, 150),
            guidance=self.number("guidance", 0.0, 30.0),
            candidates=self.integer("candidates", 1, 16),
            style_lora=self.style_lora(),
            style_lora_scale=self.number("style_lora_scale", 0.0, 2.0, required=False, default=1.0),
            id_photo=self.id_photo(),
        )
