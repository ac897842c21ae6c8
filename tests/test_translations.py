"""Every message a person can see exists in Simplified Chinese, and the compiled catalogue
matches its source."""

import gettext
import re

from tests.conftest import REPO_ROOT

LOCALE = REPO_ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
FIELD = re.compile(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?) ((?:".*"\n?)+)', re.M)


def po_entries():
    """{field: text} for each message of the .po file (the header excluded)."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        fields = {name: "".join(re.findall(r'"(.*)"', value))
                  for name, value in FIELD.findall(block)}
        if fields.get("msgid"):
            yield {**fields, "fuzzy": "#, fuzzy" in block}


def test_no_message_is_left_untranslated():
    untranslated = [entry["msgid"] for entry in po_entries()
                    if entry["fuzzy"] or not (entry.get("msgstr") or entry.get("msgstr[0]"))]
    assert untranslated == []


def test_compiled_catalogue_matches_the_source():
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalogue._catalog}
    source = {bytes(e["msgid"], "utf-8").decode("unicode_escape").encode("latin-1")
              .decode("utf-8") for e in po_entries()}
    assert source <= compiled
