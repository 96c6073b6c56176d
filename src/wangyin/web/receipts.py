"""Electronic receipts on the web: a customer downloads the receipt of a transfer; anyone
checks a receipt (by its verification code or by uploading the PDF) on a public page.
The rules live in ``wangyin.receipts`` and ``wangyin.payments.receipts``."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_safe

from wangyin.core import clock
from wangyin.payments import receipts as payment_receipts
from wangyin.receipts import codes
from wangyin.receipts import services as receipts
from wangyin.receipts.errors import ReceiptNotAvailable
from wangyin.web.customer import client_ip, customer_required
from wangyin.web.login import TOO_MANY, too_many

MAX_UPLOAD = 2 * 1024 * 1024
MAX_REQUEST = MAX_UPLOAD + 64 * 1024  # the file and the form around it
TOO_LARGE = _("The file is larger than 2 MB: it is not one of our receipts.")


@require_safe
@customer_required
def transfer_receipt_pdf(request, transfer_id: int):
    user = request.customer
    try:
        receipt = payment_receipts.transfer_receipt(
            person_id=user.person_id, transfer_id=transfer_id, actor=user.actor,
            ip=client_ip(request), at=clock.now())
    except ReceiptNotAvailable:
        raise Http404 from None  # another customer's transfer looks like none
    response = HttpResponse(bytes(receipt.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{receipt.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("Verification code"), required=False, max_length=40,
                           help_text=_("16 letters and digits, printed on the receipt."))
    document = forms.FileField(label=_("Or the receipt file (PDF)"), required=False)

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(TOO_LARGE)
        content = upload.read(MAX_UPLOAD + 1)
        if not content.startswith(b"%PDF"):
            raise forms.ValidationError(_("This file is not a PDF."))
        return content

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("code", "").strip() and not data.get("document"):
            raise forms.ValidationError(_("Enter the verification code or choose the "
                                          "receipt file."))
        return data


def _page(request, context: dict, status: int):
    response = render(request, "web/receipt_verify.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # checked by ``_verify`` once the request is known to be small
@require_http_methods(["GET", "HEAD", "POST"])
def receipt_verify(request):
    """Public: no sign-in. A body over the limit is refused before anything reads it (the
    CSRF check would otherwise parse, and spool, the whole upload first)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_REQUEST + 1
    if length > MAX_REQUEST:
        return _page(request, {"form": VerifyForm(), "error": TOO_LARGE}, 413)
    return _verify(request)


@csrf_protect
def _verify(request):
    """CSRF-protected, and limited per IP address so that codes cannot be guessed
    (SE-11)."""
    context, status = {"form": VerifyForm(), "verdict": None}, 200
    if request.method == "POST":
        form = context["form"] = VerifyForm(request.POST, request.FILES)
        if too_many(request, "receipt_verify"):
            context["error"], status = TOO_MANY, 429
        elif form.is_valid():
            now, ip = clock.now(), client_ip(request)
            document = form.cleaned_data.get("document")
            if document is not None:
                verdict = receipts.receipt_verify_pdf(document=document, ip=ip, at=now)
            else:
                verdict = receipts.receipt_verify_code(code=form.cleaned_data["code"], ip=ip,
                                                       at=now)
            english = translation.get_language() == "en"
            context.update(verdict=verdict, by_file=document is not None,
                           shown=verdict.shown_fields(english=english))
            if verdict.receipt is not None:
                data = verdict.receipt.data
                context.update(number=verdict.receipt.number,
                               title=data["title_en"] if english else data["title"])
            if verdict.genuine:
                context.update(code=codes.grouped(verdict.receipt.code),
                               issued_at=verdict.receipt.issued_at)
        else:
            status = 400
    return _page(request, context, status)
