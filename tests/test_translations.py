"""Every message a person can see exists in Simplified Chinese, the compiled catalogue matches
its source, and each page comes out in Chinese when the browser prefers it, in English otherwise,
with the language switch on it."""

import gettext
import re

import pytest

from tests.conftest import REPO_ROOT

LOCALE = REPO_ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
FIELD = re.compile(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?) ((?:".*"\n?)+)', re.M)
PUBLIC_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/verify/"]
PERSONS_PAGES = ["/consent/", "/photos/", "/clone/", "/styles/", "/gallery/", "/my-data/"]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def po_entries():
    """{field: text} for each message of the .po file (the header excluded)."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        fields = {
            name: "".join(re.findall(r'"(.*)"', value)) for name, value in FIELD.findall(block)
        }
        if fields.get("msgid"):
            yield {**fields, "fuzzy": "#, fuzzy" in block}


def test_no_message_is_left_untranslated():
    untranslated = [
        entry["msgid"]
        for entry in po_entries()
        if entry["fuzzy"] or not (entry.get("msgstr") or entry.get("msgstr[0]"))
    ]
    assert untranslated == []


def test_compiled_catalogue_matches_the_source():
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalogue._catalog}
    source = {
        bytes(e["msgid"], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        for e in po_entries()
    }
    assert source <= compiled


def heading(response):
    return re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), re.S).group(1)


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_speaks_chinese_when_the_browser_prefers_it(client, db, path):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert CHINESE.search(heading(response))


@pytest.mark.parametrize("path", PERSONS_PAGES)
def test_persons_page_speaks_chinese_when_the_browser_prefers_it(client, consenting_user, path):
    client.force_login(consenting_user)

    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert response.status_code == 200
    assert CHINESE.search(heading(response))


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_page_speaks_english_by_default(client, db, path):
    response = client.get(path)

    assert '<html lang="en">' in response.content.decode()
    assert not CHINESE.search(heading(response))


def test_every_page_offers_the_language_switch(client, consenting_user):
    client.force_login(consenting_user)

    for path in PUBLIC_PAGES[:1] + PERSONS_PAGES:
        content = client.get(path).content.decode()

        assert 'action="/i18n/setlang/"' in content, path
        assert 'value="zh-hans"' in content, path
