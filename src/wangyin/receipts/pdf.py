"""The receipt as a PDF (A5 landscape, Chinese with reportlab's built-in CJK font, nothing
embedded). Everything printed comes from the receipt's canonical data; the document's
Keywords carry a marker with the receipt number, code, digest and signature, so the
verify page can say which receipt an altered file claims to be.

Rendering uses reportlab's invariant mode (fixed creation date and document id): the
same data gives the same bytes, which the tests rely on. Genuineness does not: the bytes
issued are stored with their SHA-256 at issue (see ``models``)."""

from __future__ import annotations

import io
import math
from datetime import datetime

from wangyin.receipts.codes import grouped

FONT = "STSong-Light"
SEAL_RED = "#c8102e"


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("receipt", fontName=FONT, fontSize=9, leading=12,
                          wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=20,
                                alignment=1),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=8, leading=10,
                                   alignment=1, textColor=colors.HexColor("#555555")),
        "meta": base,
        "meta_right": ParagraphStyle("meta_right", parent=base, alignment=2),
        "label": ParagraphStyle("label", parent=base, textColor=colors.HexColor("#333333")),
        "value": base,
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=10,
                               textColor=colors.HexColor("#444444")),
    }


def _text(value: str) -> str:
    """Plain text for a Paragraph (which reads a little markup)."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _rows(fields: list[dict], styles) -> tuple[list[list], list[tuple]]:
    """Four columns — label, value, label, value — two fields a row; a wide field takes a
    row of its own. Returns the rows and the spans of the wide ones."""
    from reportlab.platypus import Paragraph

    rows: list[list] = []
    spans: list[tuple] = []
    pending: list = []

    def cells(field):
        return [Paragraph(_text(field["label"]), styles["label"]),
                Paragraph(_text(field["value"]), styles["value"])]

    for field in fields:
        if field.get("wide"):
            if pending:
                rows.append(pending + ["", ""])
                pending = []
            spans.append(("SPAN", (1, len(rows)), (3, len(rows))))
            rows.append(cells(field) + ["", ""])
        else:
            pending += cells(field)
            if len(pending) == 4:
                rows.append(pending)
                pending = []
    if pending:
        rows.append(pending + ["", ""])
    return rows, spans


def _draw_seal(canvas, x: float, y: float, radius: float, issuer: str, name: str) -> None:
    """The red round stamp: the issuer along the top arc, a star, the stamp's name."""
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setLineWidth(1.6)
    canvas.circle(x, y, radius, stroke=1, fill=0)
    size = radius * 0.3
    canvas.setFont(FONT, size)
    arc = radius - size * 1.05
    count = len(issuer)
    spread = min(200.0, 40.0 * count)
    for i, char in enumerate(issuer):
        angle = 90 + spread / 2 - spread * (i + 0.5) / count
        theta = math.radians(angle)
        canvas.saveState()
        canvas.translate(x + arc * math.cos(theta), y + arc * math.sin(theta))
        canvas.rotate(angle - 90)
        canvas.drawCentredString(0, -size / 2.8, char)
        canvas.restoreState()
    star = radius * 0.28
    points = []
    for i in range(10):
        r = star if i % 2 == 0 else star * 0.4
        theta = math.radians(90 + 36 * i)
        points.append((x + r * math.cos(theta), y + r * math.sin(theta)))
    path = canvas.beginPath()
    path.moveTo(*points[0])
    for point in points[1:]:
        path.lineTo(*point)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.setFont(FONT, radius * 0.19)
    canvas.drawCentredString(x, y - radius * 0.58, name)
    canvas.restoreState()


def render(data: dict, *, issuer: str, keywords: str) -> bytes:
    """The PDF of a receipt's canonical ``data`` (see ``services.receipt_issue``)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A5, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        Flowable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    styles = _styles()
    width, height = landscape(A5)
    margin = 12 * mm
    buffer = io.BytesIO()
    issued = datetime.fromisoformat(data["issued_at"]).strftime("%Y-%m-%d %H:%M:%S")
    doc = SimpleDocTemplate(
        buffer, pagesize=(width, height), leftMargin=margin, rightMargin=margin,
        topMargin=10 * mm, bottomMargin=10 * mm, invariant=1,
        title=f"{issuer}{data['title']} {data['number']}", author=issuer,
        subject=f"{data['title_en']} {data['number']}", creator="Wangyin", keywords=keywords)
    usable = width - 2 * margin
    header = Table(
        [[Paragraph(f"回单编号 Receipt No.：{data['number']}", styles["meta"]),
          Paragraph(f"验证码 Verification code：{grouped(data['code'])}",
                    styles["meta_right"])]],
        colWidths=[usable / 2, usable / 2])
    header.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    rows, spans = _rows(data["fields"], styles)
    label_w = 24 * mm
    table = Table(rows, colWidths=[label_w, usable / 2 - label_w] * 2)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#8a8a8a")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
        *[("BACKGROUND", (2, row), (2, row), colors.HexColor("#f2f2f2"))
          for row in range(len(rows)) if not any(span[1][1] == row for span in spans)],
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        *spans,
    ]))
    note = Paragraph(
        f"签发时间 Issued：{issued}。本回单由{issuer}以电子签章（SM2/SM3 数字签名）签发，"
        f"可在{issuer}网站“电子回单验证”页面输入验证码或上传本文件核验真伪，文件被改动后"
        "不能通过核验。同一笔交易可多次下载回单，不代表重复交易。", styles["note"])

    radius = 16 * mm

    class Seal(Flowable):
        def wrap(self, *_args):
            return 2 * radius, 2 * radius

        def draw(self):
            _draw_seal(self.canv, radius, radius, radius, issuer, "电子回单专用章")

    doc.build([Paragraph(f"{issuer} {_text(data['title'])}", styles["title"]),
               Paragraph(f"Electronic receipt / {_text(data['title_en'])}",
                         styles["subtitle"]),
               Spacer(1, 4 * mm), header, Spacer(1, 2 * mm), table, Spacer(1, 3 * mm),
               # The stamp beside the note, over the table's last line as a stamp would be.
               Table([[note, Seal()]], colWidths=[usable - 46 * mm, 46 * mm],
                     style=[("LEFTPADDING", (0, 0), (-1, -1), 0),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TOPPADDING", (1, 0), (1, 0), -12 * mm)])])
    return buffer.getvalue()
