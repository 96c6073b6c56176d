"""Face verification (FA-08): the port's sandbox and production adapters, and what the bank
accepts of their answers."""

import base64
import io
import json
from unittest import mock

import pytest
from PIL import Image

from wangyin.audit.models import AuditEvent
from wangyin.authn import face
from wangyin.authn.models import SandboxFacePhoto
from wangyin.ops import faces

pytestmark = [pytest.mark.django_db, pytest.mark.req("FA-08")]

ID = {"id_type": "RESIDENT_ID", "id_number": "36070219850312201X", "name": "张伟"}
SWAY = ((0, 0), (2, 1), (3, 3))


def _camera(who="张伟", sway=SWAY):
    return [faces.portrait(who, dx=dx, dy=dy) for dx, dy in sway]


@pytest.fixture
def registered(at):
    face.sandbox_register(**ID, picture=faces.portrait("张伟"), at=at)


def test_the_sandbox_matches_the_registered_face_when_it_moves(registered):
    result = face.SandboxFaceVerifier().compare(**ID, frames=_camera(), reference="r1")
    assert result.on_record and result.live and result.similarity >= 0.85
    assert result.reference == "sandbox-r1"


def test_the_sandbox_tells_another_face_a_still_picture_and_an_unknown_document(registered):
    sandbox = face.SandboxFaceVerifier()
    other = sandbox.compare(**ID, frames=_camera("王芳"), reference="r")
    assert other.on_record and other.live and other.similarity < 0.85
    still = sandbox.compare(**ID, frames=_camera(sway=((0, 0),) * 3), reference="r")
    assert still.on_record and not still.live
    wrong_name = sandbox.compare(**{**ID, "name": "张玮"}, frames=_camera(), reference="r")
    assert not wrong_name.on_record and wrong_name.similarity == 0.0


def test_the_sandbox_keeps_a_hash_not_the_picture(registered):
    entry = SandboxFacePhoto.objects.get()
    assert len(entry.picture_hash) == 64 and ID["id_number"] not in entry.id_index
    small = io.BytesIO()
    Image.new("RGB", (60, 60)).save(small, "PNG")
    with pytest.raises(ValueError):
        face.sandbox_register(**ID, picture=small.getvalue(), at=entry.registered_at)
    with pytest.raises(ValueError):
        face.sandbox_register(**ID, picture=b"GIF89a not a photo", at=entry.registered_at)


def test_frames_are_three_to_five_jpeg_or_png_data_urls():
    def urls(frames, kind="jpeg"):
        return json.dumps([f"data:image/{kind};base64," + base64.b64encode(f).decode()
                           for f in frames])
    assert face.frames_from(urls(_camera())) == _camera()
    assert face.frames_from(urls(_camera()[:2])) is None
    assert face.frames_from(urls(_camera() * 2)) is None
    assert face.frames_from(urls(_camera(), kind="gif")) is None
    assert face.frames_from(urls([b"<svg/>"] * 3)) is None
    assert face.frames_from(urls([b"\xff\xd8\xff" + bytes(face.FRAME_MAX_BYTES)] * 3)) is None
    assert face.frames_from("not json") is None
    assert face.frames_from(json.dumps({"a": 1})) is None


class _Answer:
    def __init__(self, body: bytes):
        self.body = body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self):
        return self.body


def test_the_http_adapter_posts_the_frames_and_reads_the_answer():
    provider = face.HttpFaceVerifier(url="https://faces.example/v1/compare", token="t0k")
    answer = _Answer(b'{"on_record": true, "live": true, "similarity": 0.93, "id": "P-77"}')
    with mock.patch("urllib.request.urlopen", return_value=answer) as urlopen:
        result = provider.compare(**ID, frames=_camera(), reference="challenge-9-0")
    request = urlopen.call_args.args[0]
    sent = json.loads(request.data)
    assert request.full_url == "https://faces.example/v1/compare"
    assert request.get_header("Authorization") == "Bearer t0k"
    assert sent["id_number"] == ID["id_number"] and sent["reference"] == "challenge-9-0"
    assert base64.b64decode(sent["frames"][0]) == _camera()[0]
    assert (result.on_record, result.live, result.similarity, result.reference) == (
        True, True, 0.93, "P-77")


@pytest.mark.parametrize("body", [b"<html>busy</html>", b'{"live": true}',
                                  b'{"on_record": true, "live": true, "similarity": "x"}'])
def test_the_http_adapter_reports_an_unusable_answer_as_unavailable(body):
    provider = face.HttpFaceVerifier(url="https://faces.example/v1/compare", token="t0k")
    with mock.patch("urllib.request.urlopen", return_value=_Answer(body)), \
            pytest.raises(face.FaceUnavailable):
        provider.compare(**ID, frames=_camera(), reference="r")


def test_the_http_adapter_needs_https_and_a_token(settings, monkeypatch):
    with pytest.raises(ValueError):
        face.HttpFaceVerifier(url="http://faces.example", token="t")
    settings.FACE_VERIFIER, settings.FACE_URL = "http", "https://faces.example/v1/compare"
    monkeypatch.delenv("WANGYIN_FACE_TOKEN", raising=False)
    with pytest.raises(ValueError):
        face.verifier()
    monkeypatch.setenv("WANGYIN_FACE_TOKEN", "t")
    assert isinstance(face.verifier(), face.HttpFaceVerifier)
    settings.FACE_VERIFIER = "off"
    assert not face.enabled()


def test_the_bank_decides_by_its_own_similarity_threshold(make_person, at, settings):
    person = make_person()
    frames = json.dumps(["data:image/jpeg;base64," + base64.b64encode(f).decode()
                         for f in _camera()])

    def provider_says(similarity, live=True, on_record=True):
        result = face.FaceResult(on_record=on_record, live=live, similarity=similarity,
                                 reference="P-1")
        with mock.patch.object(face.SandboxFaceVerifier, "compare", return_value=result):
            return face.face_check(person=person, answer=frames, reference="r", at=at)

    settings.FACE_MIN_SIMILARITY = 0.9
    assert provider_says(0.9) == ""
    assert provider_says(0.89) == "another face"
    assert provider_says(0.99, live=False) == "not live"
    assert provider_says(0.99, on_record=False) == "document not on record"
    with mock.patch.object(face.SandboxFaceVerifier, "compare",
                           side_effect=face.FaceUnavailable("provider error: timeout")):
        assert face.face_check(person=person, answer=frames, reference="r",
                               at=at) == "provider error: timeout"
    checks = AuditEvent.objects.filter(action="authn.face.checked")
    assert [e.result for e in checks.order_by("id")] == ["SUCCESS"] + ["FAILURE"] * 3
    assert checks.first().details == {"provider": "sandbox", "reference": "P-1",
                                      "on_record": True, "live": True, "similarity": 0.9}
