"""Dynamic password cards (FA-04): bound to one customer, random cells asked by the
server, a 6-digit answer, an expiry date and a maximum number of uses; printed once."""

from datetime import timedelta

import pytest
from django.db import connection

from wangyin.audit.models import AuditEvent
from wangyin.authn import cards, policy
from wangyin.authn import services as authn
from wangyin.authn.errors import CardUnusable, ChallengeFailed
from wangyin.authn.models import CardStatus, PasswordCard

pytestmark = [pytest.mark.django_db, pytest.mark.req("FA-04")]


@pytest.fixture
def card(user, at):
    return cards.card_issue(person_id=user.person_id, staff="staff:7", reason="counter",
                            at=at, valid_for=timedelta(days=30), max_uses=2)


def _answer(card_row, cells):
    return "".join(cards.cell_value(card_row.grid, c) for c in cells.split())


def _challenge(user, at):
    return authn.challenge_issue(person=user.person, purpose="device.bind", digest="d",
                                 factors=["CARD"], at=at)


def _verify(user, challenge, answer, at):
    return authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="device.bind", digest="d", codes={"CARD": answer},
                                  at=at)


def test_the_server_asks_three_random_cells_for_a_six_digit_answer(user, card, at):
    card_row, pdf = card
    challenge = _challenge(user, at)
    cells = challenge.card_cells.split()
    assert len(cells) == 3 == len(set(cells))
    assert all(c[0] in cards.COLUMNS and 1 <= int(c[1:]) <= cards.ROWS for c in cells)
    assert len(_answer(card_row, challenge.card_cells)) == 6
    drawn = {_challenge(user, at).card_cells for _ in range(5)}
    assert len(drawn) > 1  # not the same cells every time
    assert _verify(user, challenge, _answer(card_row, challenge.card_cells), at).verified_at


def test_wrong_digits_fail_and_repeated_failures_lock(user, card, at, settings):
    settings.TOKEN_MAX_FAILURES = 2
    card_row, _ = card
    for _ in range(2):
        challenge = _challenge(user, at)
        right = _answer(card_row, challenge.card_cells)
        with pytest.raises((ChallengeFailed, CardUnusable)):
            _verify(user, challenge, f"{(int(right) + 1) % 1_000_000:06d}", at)
    assert PasswordCard.objects.get().status == CardStatus.LOCKED
    with pytest.raises(CardUnusable):
        _challenge(user, at)


def test_expiry_and_maximum_uses(user, card, at):
    card_row, _ = card
    for _ in range(2):  # max_uses=2
        challenge = _challenge(user, at)
        _verify(user, challenge, _answer(card_row, challenge.card_cells), at)
    with pytest.raises(CardUnusable):
        _challenge(user, at)
    PasswordCard.objects.update(uses=0)
    with pytest.raises(CardUnusable):
        _challenge(user, at + timedelta(days=31))


def test_bound_to_one_customer_grid_encrypted_and_printed_once(user, card, at, make_person):
    card_row, pdf = card
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    with connection.cursor() as cursor:
        cursor.execute("SELECT grid FROM authn_passwordcard WHERE id = %s", [card_row.pk])
        assert card_row.grid[:40].encode() not in bytes(cursor.fetchone()[0])
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    assert cards.card_of(other) is None
    assert policy.second_factor_of(user.person) == "CARD"
    event = AuditEvent.objects.get(action="authn.card.issued")
    assert card_row.grid not in str(event.details)
    cards.card_revoke(person_id=user.person_id, staff="staff:7", reason="lost", at=at)
    assert cards.card_of(user.person) is None
