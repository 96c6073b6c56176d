"""Dynamic password cards (动态密码卡, FA-04). A teller issues a card bound to one customer:
a grid of 10 columns (A–J) by 8 rows of 2-digit cells drawn with ``secrets``, valid for a
set time and a maximum number of uses. The server asks for 3 random cells, whose digits
form a 6-digit answer. The grid is encrypted at rest and printed once, as a PDF, at issue;
a lost card is revoked and a new one issued."""

from __future__ import annotations

import hmac
import io
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from wangyin.audit import services as audit
from wangyin.authn.errors import NoToken, TokenAlreadyIssued
from wangyin.authn.models import CardStatus, PasswordCard
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Person
from wangyin.notify import services as notify

COLUMNS = "ABCDEFGHIJ"
ROWS = 8
CELL_DIGITS = 2
ASKED_CELLS = 3  # 3 × 2 = a 6-digit answer
VALID_FOR = timedelta(days=730)
MAX_USES = 1000


def _cell_index(cell: str) -> int:
    column, row = COLUMNS.index(cell[0]), int(cell[1:]) - 1
    if not 0 <= row < ROWS:
        raise ValueError(cell)
    return (row * len(COLUMNS) + column) * CELL_DIGITS


def cell_value(grid: str, cell: str) -> str:
    start = _cell_index(cell)
    return grid[start:start + CELL_DIGITS]


def draw_cells() -> str:
    """Three different random cells, e.g. ``"B3 F7 J1"``."""
    cells: list[str] = []
    while len(cells) < ASKED_CELLS:
        cell = f"{secrets.choice(COLUMNS)}{secrets.randbelow(ROWS) + 1}"
        if cell not in cells:
            cells.append(cell)
    return " ".join(cells)


def _new_serial() -> str:
    return "PC" + "".join(secrets.choice("0123456789") for _ in range(10))


@transaction.atomic
def card_issue(*, person_id: int, staff: str, reason: str, at: datetime,
               valid_for: timedelta = VALID_FOR, max_uses: int = MAX_USES
               ) -> tuple[PasswordCard, bytes]:
    """Issue a card; returns it and its printable PDF — the only time the grid leaves the
    database in clear."""
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    grid = "".join(secrets.choice("0123456789")
                   for _ in range(len(COLUMNS) * ROWS * CELL_DIGITS))
    try:
        with transaction.atomic():
            card = PasswordCard.objects.create(
                person=person, serial=_new_serial(), grid=grid, expires_at=at + valid_for,
                max_uses=max_uses, issued_at=at, issued_by=staff)
    except IntegrityError as exc:
        raise TokenAlreadyIssued() from exc
    audit.record(actor=staff, action="authn.card.issued", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": card.serial, "reason": reason,
                                          "expires_at": card.expires_at.isoformat(),
                                          "max_uses": max_uses})
    notify.notice_send(person=person, kind="security.factor_added", params={"factor": "card"},
                       actor=staff, at=at, sms_purpose="authn.card_issued",
                       sms=f"{settings.SMS_SIGNATURE}您已在柜台领取动态密码卡（序号尾号"
                       f"{card.serial[-4:]}）。如非本人办理，请立即致电本行客服。")
    return card, card_pdf(card, holder=person.masked_name)


def card_of(person) -> PasswordCard | None:
    return (PasswordCard.objects.exclude(status=CardStatus.REVOKED)
            .filter(person=person).first())


@transaction.atomic
def card_revoke(*, person_id: int, staff: str, reason: str, at: datetime) -> PasswordCard:
    card = (PasswordCard.objects.select_for_update().exclude(status=CardStatus.REVOKED)
            .filter(person_id=person_id).first())
    if card is None:
        raise NoToken(extra={"person_id": person_id, "kind": "CARD"})
    card.status, card.revoked_at = CardStatus.REVOKED, at
    card.save(update_fields=["status", "revoked_at"])
    audit.record(actor=staff, action="authn.card.revoked", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": card.serial, "reason": reason})
    notify.notice_send(person=card.person, kind="security.factor_removed",
                       params={"factor": "card"}, at=at)
    return card


def card_usable(card: PasswordCard | None, at: datetime) -> bool:
    return (card is not None and card.status == CardStatus.ACTIVE and card.expires_at > at
            and card.uses < card.max_uses)


def card_accept(card: PasswordCard, answer: str, cells: str, at: datetime) -> bool:
    """Check the digits of ``cells`` on the card, whose row the caller has locked. A right
    answer counts a use; consecutive wrong ones lock the card. Saves the card."""
    answer = (answer or "").strip()
    good = False
    if card_usable(card, at) and cells:
        expected = "".join(cell_value(card.grid, cell) for cell in cells.split())
        good = hmac.compare_digest(expected, answer)
    if good:
        card.uses, card.failures = card.uses + 1, 0
    elif card.status == CardStatus.ACTIVE:
        card.failures += 1
        if card.failures >= settings.TOKEN_MAX_FAILURES:
            card.status = CardStatus.LOCKED
    card.save(update_fields=["uses", "failures", "status"])
    return good


def card_pdf(card: PasswordCard, *, holder: str) -> bytes:
    """The printable card: serial, holder (masked), expiry, the grid, a safety notice."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A6, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    width, height = landscape(A6)
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setTitle(f"动态密码卡 {card.serial}")
    pdf.setFont("STSong-Light", 11)
    pdf.drawString(8 * mm, height - 10 * mm, "网银银行 动态密码卡")
    pdf.setFont("STSong-Light", 7)
    pdf.drawString(8 * mm, height - 15 * mm, f"序号 {card.serial}  持卡人 {holder}  "
                   f"有效期至 {card.expires_at:%Y-%m-%d}  最多使用 {card.max_uses} 次")
    cell_w, cell_h = 12.5 * mm, 7 * mm
    left, top = 12 * mm, height - 22 * mm
    pdf.setFont("Helvetica-Bold", 8)
    for c, column in enumerate(COLUMNS):
        pdf.drawCentredString(left + cell_w * (c + 0.5), top + 1.5 * mm, column)
    for r in range(ROWS):
        y = top - cell_h * (r + 1)
        pdf.setFont("Helvetica-Bold", 8)
        pdf.drawRightString(left - 2 * mm, y + 2 * mm, str(r + 1))
        pdf.setFont("Courier-Bold", 10)
        for c, column in enumerate(COLUMNS):
            pdf.setStrokeColor(colors.lightgrey)
            pdf.rect(left + cell_w * c, y, cell_w, cell_h)
            pdf.drawCentredString(left + cell_w * (c + 0.5), y + 2 * mm,
                                  cell_value(card.grid, f"{column}{r + 1}"))
    pdf.setFont("STSong-Light", 6.5)
    pdf.drawString(8 * mm, 6 * mm,
                   "请妥善保管，切勿拍照或告诉任何人。本行工作人员不会索要卡上数字。")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
