"""Chinese is the default language: every message has a translation, and the compiled
catalogue the site loads matches the source (a stale .mo would show English)."""

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "src/wangyin/locale/zh_Hans/LC_MESSAGES"


def _entries():
    text = (LOCALE / "django.po").read_text("utf-8")
    for block in text.split("\n\n"):
        if "#, fuzzy" in block:
            yield "FUZZY", block, None
            continue
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        context = re.search(r'^msgctxt "(.*)"', block, re.M)
        if msgid:
            join = lambda m: "".join(re.findall(r'"(.*)"', m.group(1)))  # noqa: E731
            yield join(msgid), join(msgstr) if msgstr else "", context and context.group(1)


@pytest.mark.req("CS-09")
def test_every_message_is_translated_and_compiled():
    entries = [(k, v, c) for k, v, c in _entries() if k]
    assert len(entries) > 100
    assert [k for k, v, _c in entries if k == "FUZZY" or not v] == []
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [k for k, v, c in entries if "%" not in k and "\\" not in k
             and (compiled.pgettext(c, k) if c else compiled.gettext(k)) != v]
    assert stale == [], "django.mo is older than django.po: run msgfmt"
