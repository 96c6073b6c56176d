"""Every business error has a stable code and a message in Chinese (the default) and English."""

import pytest
from django.utils import translation

import wangyin.customers.errors
import wangyin.ledger.errors  # noqa: F401 - registers the subclasses
from wangyin.core.errors import DomainError


def _all_errors():
    found, stack = [], [DomainError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def test_codes_are_unique_and_stable_looking():
    errors = _all_errors()
    assert len(errors) > 20 and wangyin.customers.errors.PartyExists in errors
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes))
    assert all(code.islower() and " " not in code for code in codes)


@pytest.mark.req("CS-09")
@pytest.mark.parametrize("error", _all_errors(), ids=lambda e: e.code)
def test_message_is_translated_to_chinese(error):
    with translation.override("en"):
        english = str(error().message)
    with translation.override("zh-hans"):
        chinese = str(error().message)
    assert english and chinese != english
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
