"""The clearing front-end processor's door into the bank: it posts the clearing system's
answers and other banks' credits here, signed with the shared HMAC key (the same key
signs our answer). Open only with the ``http`` clearing adapter; the sandbox delivers its
events from the worker instead."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wangyin.core import clock
from wangyin.payments import clearing, settlement

MAX_BODY = 16 * 1024


def _answer(payload: dict, status: int = 200) -> HttpResponse:
    body = json.dumps(payload, sort_keys=True).encode()
    response = HttpResponse(body, status=status, content_type="application/json")
    response[clearing.SIGNATURE_HEADER] = clearing.sign(body)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # a machine endpoint: authenticated by the HMAC signature, not a session
@require_POST
def clearing_events(request):
    if settings.CLEARING_ADAPTER != "http":
        raise Http404
    body = request.body[:MAX_BODY + 1]
    if len(body) > MAX_BODY or not clearing.signature_ok(
            body, request.headers.get(clearing.SIGNATURE_HEADER, "")):
        return _answer({"error": "bad signature"}, status=403)
    try:
        event = clearing.Event.from_dict(json.loads(body))
    except ValueError as exc:  # includes JSON errors
        return _answer({"error": str(exc)[:120]}, status=400)
    return _answer({"result": settlement.clearing_receive(event=event, now=clock.now())})
