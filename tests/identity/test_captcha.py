"""Graphical captchas (AU-04): random, mixed, drawn on the server, two minutes, single use."""

from datetime import timedelta
from io import BytesIO

import pytest
from PIL import Image

from wangyin.identity import captcha
from wangyin.identity.models import Captcha

pytestmark = [pytest.mark.django_db, pytest.mark.req("AU-04")]


def test_answers_mix_letters_and_digits_without_look_alikes(at):
    answers = {captcha.captcha_issue(purpose="login", at=at).answer for _ in range(40)}
    assert len(answers) == 40
    for answer in answers:
        assert len(answer) == 5 and not set(answer) & set("017IOSZB")
        assert any(c.isdigit() for c in answer) and any(c.isalpha() for c in answer)


def test_the_image_is_a_png_and_the_answer_never_appears_as_text(at):
    issued = captcha.captcha_issue(purpose="login", at=at)
    png = captcha.captcha_image(token=issued.token, at=at)
    image = Image.open(BytesIO(png))
    assert image.format == "PNG" and image.size == (200, 70)
    assert issued.answer.encode() not in png
    # Noise and colour: far more than two colours on the canvas.
    assert len(image.convert("RGB").getcolors(maxcolors=100_000)) > 50


def test_a_right_answer_passes_once_case_insensitively(at):
    issued = captcha.captcha_issue(purpose="login", at=at)
    assert captcha.captcha_verify(token=issued.token, answer=issued.answer.lower() + " ",
                                  purpose="login", at=at)
    assert not captcha.captcha_verify(token=issued.token, answer=issued.answer,
                                      purpose="login", at=at)
    assert captcha.captcha_image(token=issued.token, at=at) is None


def test_a_wrong_answer_burns_the_captcha(at):
    issued = captcha.captcha_issue(purpose="login", at=at)
    assert not captcha.captcha_verify(token=issued.token, answer="WRONG", purpose="login", at=at)
    assert not captcha.captcha_verify(token=issued.token, answer=issued.answer,
                                      purpose="login", at=at)


def test_expiry_after_two_minutes_and_purpose_binding(at):
    late = captcha.captcha_issue(purpose="login", at=at)
    assert captcha.captcha_image(token=late.token, at=at + timedelta(minutes=2)) is None
    assert not captcha.captcha_verify(token=late.token, answer=late.answer, purpose="login",
                                      at=at + timedelta(minutes=2, seconds=1))
    other = captcha.captcha_issue(purpose="register", at=at)
    assert not captcha.captcha_verify(token=other.token, answer=other.answer, purpose="login",
                                      at=at)
    assert not captcha.captcha_verify(token="no-such-token", answer="X", purpose="login", at=at)


def test_old_captchas_are_purged(at):
    captcha.captcha_issue(purpose="login", at=at - timedelta(days=2))
    fresh = captcha.captcha_issue(purpose="login", at=at)
    assert captcha.captcha_purge(now=at) == 1
    assert list(Captcha.objects.all()) == [fresh]
