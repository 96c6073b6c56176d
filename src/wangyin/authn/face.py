"""Face verification (FA-08): the customer's live face, compared through an
identity-verification provider with the photo of their ID document in the public-security
register. The bank decides (``face_check``): the provider found the document, the frames
are live, and the similarity reaches ``FACE_MIN_SIMILARITY``.

The port has two adapters, chosen with ``WANGYIN_FACE_VERIFIER`` = ``sandbox`` | ``http`` |
``off`` (no face verification: the policy never asks for it).

- ``SandboxFaceVerifier`` (default): a product feature for demos and tests. Its register is
  ``SandboxFacePhoto`` — a picture hash per ID document and name, filled by
  ``wangyin face register`` and the demo data. It compares *pictures*, not faces: the
  similarity is the share of equal bits of a 256-bit difference hash of each frame and the
  registered picture (the median over the frames), and "live" only means that consecutive
  frames are not one still image. Like the real service it answers "not on record" for an
  unknown document or a name that does not go with it.
- ``HttpFaceVerifier``: production. POSTs JSON ``{"id_type", "id_number", "name",
  "frames": [base64...], "reference"}`` with a bearer token (``WANGYIN_FACE_TOKEN``) to
  ``WANGYIN_FACE_URL`` and expects ``{"on_record", "live", "similarity", "id"}``; liveness
  is the provider's (its SDK or its frame analysis).

Frames are never stored or logged: only the outcome, the similarity and the provider's
reference reach the audit (biometric data serve the intended use only, 003 §6.4.4)."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from PIL import Image, ImageChops, ImageStat, UnidentifiedImageError

from wangyin.audit import services as audit
from wangyin.authn.models import SandboxFacePhoto
from wangyin.core.crypto import blind_index

FRAMES_MIN, FRAMES_MAX = 3, 5
FRAME_MAX_BYTES = 200_000
# What a page may post for the frames: FRAMES_MAX base64 data URLs of FRAME_MAX_BYTES.
ANSWER_MAX_CHARS = FRAMES_MAX * (FRAME_MAX_BYTES * 4 // 3 + 40) + 16
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG
_DATA_URL = re.compile(r"data:image/(?:jpeg|png);base64,([A-Za-z0-9+/]+={0,2})")


class FaceUnavailable(RuntimeError):
    """The provider did not answer; the check fails and the customer may try again."""


@dataclass(frozen=True)
class FaceResult:
    on_record: bool  # the register has a photo for this document and name
    live: bool
    similarity: float  # 0 … 1, against the register photo
    reference: str  # the provider's id for this check


class FaceVerifier(Protocol):
    name: str

    def compare(self, *, id_type: str, id_number: str, name: str, frames: list[bytes],
                reference: str) -> FaceResult:
        """Compare the frames with the register photo of the document."""


def enabled() -> bool:
    return settings.FACE_VERIFIER != "off"


def frames_from(answer: str) -> list[bytes] | None:
    """The frames a page posted: a JSON list of ``FRAMES_MIN``…``FRAMES_MAX`` JPEG or PNG
    data URLs of at most ``FRAME_MAX_BYTES`` each; None for anything else."""
    if not answer or len(answer) > ANSWER_MAX_CHARS:
        return None
    try:
        urls = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(urls, list) or not FRAMES_MIN <= len(urls) <= FRAMES_MAX:
        return None
    frames = []
    for url in urls:
        match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None:
            return None
        try:
            frame = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(frame) > FRAME_MAX_BYTES or not frame.startswith(_MAGIC):
            return None
        frames.append(frame)
    return frames


# --- the sandbox ---------------------------------------------------------------------------

_HASH_SIDE = 16  # a 16 × 16 difference hash: 256 bits
_MIN_SIDE, _MAX_SIDE = 120, 4096
# Mean absolute difference (0–255) of two frames, shrunk to 32 × 32 grey: below it they
# are one still picture. Camera noise alone is above it.
_STILL = 1.0


def _picture(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ("JPEG", "PNG"):
            return None
        if not all(_MIN_SIDE <= side <= _MAX_SIDE for side in image.size):
            return None
        return image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _hash(image: Image.Image) -> int:
    small = image.resize((_HASH_SIDE + 1, _HASH_SIDE), Image.Resampling.LANCZOS).tobytes()
    bits = 0
    for row in range(_HASH_SIDE):
        for col in range(_HASH_SIDE):
            left = small[row * (_HASH_SIDE + 1) + col]
            bits = bits << 1 | (left > small[row * (_HASH_SIDE + 1) + col + 1])
    return bits


def _similarity(a: int, b: int) -> float:
    return 1 - (a ^ b).bit_count() / _HASH_SIDE ** 2


def _moved(a: Image.Image, b: Image.Image) -> bool:
    difference = ImageChops.difference(a.resize((32, 32)), b.resize((32, 32)))
    return ImageStat.Stat(difference).mean[0] >= _STILL


def _id_index(id_type: str, id_number: str, name: str) -> str:
    return blind_index(f"{id_type}:{id_number.strip().upper()}:{name.strip()}",
                       purpose="authn.face_sandbox")


def sandbox_register(*, id_type: str, id_number: str, name: str, picture: bytes,
                     at: datetime) -> None:
    """Put a document's photo in the sandbox register (replacing one that was there).
    Raises ValueError for something that is not a JPEG or PNG picture of a usable size."""
    image = _picture(picture)
    if image is None:
        raise ValueError("a JPEG or PNG picture, 120 to 4096 pixels a side")
    SandboxFacePhoto.objects.update_or_create(
        id_index=_id_index(id_type, id_number, name),
        defaults={"picture_hash": f"{_hash(image):064x}", "registered_at": at})


class SandboxFaceVerifier:
    name = "sandbox"

    def compare(self, *, id_type: str, id_number: str, name: str, frames: list[bytes],
                reference: str) -> FaceResult:
        entry = SandboxFacePhoto.objects.filter(
            id_index=_id_index(id_type, id_number, name)).first()
        images = [_picture(frame) for frame in frames]
        if any(image is None for image in images):
            return FaceResult(on_record=entry is not None, live=False, similarity=0.0,
                              reference=f"sandbox-{reference}")
        live = all(_moved(a, b) for a, b in zip(images, images[1:], strict=False))
        similarity = 0.0
        if entry is not None:
            registered = int(entry.picture_hash, 16)
            scores = sorted(_similarity(registered, _hash(image)) for image in images)
            similarity = scores[len(scores) // 2]
        return FaceResult(on_record=entry is not None, live=live, similarity=similarity,
                          reference=f"sandbox-{reference}")


# --- production ----------------------------------------------------------------------------


class HttpFaceVerifier:
    name = "http"

    def __init__(self, *, url: str, token: str, timeout: float = 10.0) -> None:
        if not url.startswith("https://"):
            raise ValueError("the face-verification provider must be reached over https")
        self.url, self.token, self.timeout = url, token, timeout

    def compare(self, *, id_type: str, id_number: str, name: str, frames: list[bytes],
                reference: str) -> FaceResult:
        payload = json.dumps({
            "id_type": id_type, "id_number": id_number, "name": name, "reference": reference,
            "frames": [base64.b64encode(frame).decode() for frame in frames]}).encode()
        request = urllib.request.Request(  # noqa: S310 - https enforced in __init__
            self.url, data=payload, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
            return FaceResult(on_record=answer["on_record"] is True,
                              live=answer["live"] is True,
                              similarity=min(1.0, max(0.0, float(answer["similarity"]))),
                              reference=str(answer.get("id", ""))[:80])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FaceUnavailable(f"provider error: {type(exc).__name__}") from exc


def verifier() -> FaceVerifier:
    if settings.FACE_VERIFIER == "sandbox":
        return SandboxFaceVerifier()
    if settings.FACE_VERIFIER == "http":
        token = os.environ.get("WANGYIN_FACE_TOKEN", "")
        if not token:
            raise ValueError("WANGYIN_FACE_TOKEN is required with the http face verifier")
        return HttpFaceVerifier(url=settings.FACE_URL, token=token)
    raise ValueError(f"no face verifier ({settings.FACE_VERIFIER!r})")


# --- the bank's decision -------------------------------------------------------------------


def face_check(*, person, answer: str, reference: str, at: datetime) -> str:
    """Check the frames a page posted against the person's ID photo. Returns "" when the
    face is accepted, else why not (for the challenge's audit); audits the provider's
    answer as ``authn.face.checked``."""
    frames = frames_from(answer)
    if frames is None:
        return "no usable frames"
    provider = verifier()
    try:
        result = provider.compare(id_type=person.id_type, id_number=person.id_number,
                                  name=person.name, frames=frames, reference=reference)
    except FaceUnavailable as exc:
        why = str(exc)
    else:
        why = ("document not on record" if not result.on_record
               else "not live" if not result.live
               else "" if result.similarity >= settings.FACE_MIN_SIMILARITY
               else "another face")
        audit.record(actor=f"customer:{person.pk}", action="authn.face.checked",
                     result="FAILURE" if why else "SUCCESS", target=f"person:{person.pk}",
                     occurred_at=at,
                     details={"provider": provider.name, "reference": result.reference,
                              "on_record": result.on_record, "live": result.live,
                              "similarity": round(result.similarity, 3)})
    return why
