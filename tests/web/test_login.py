"""The customer login flow through Django's test client, step by step."""

from datetime import timedelta
from unittest import mock

import pytest

from wangyin.core import clock
from wangyin.identity.models import Captcha, CustomerSession, LoginEvent
from wangyin.identity.reserved import PHRASES
from wangyin.notify.models import SmsMessage

from .conftest import PASSWORD, change_password, pass_captcha, sign_in, submit_password

pytestmark = pytest.mark.django_db


@pytest.mark.req("AU-04")
def test_captcha_comes_first_and_a_wrong_one_stops_everything(client, customer):
    page = client.get("/login/")
    token = client.session["login_captcha"]
    assert f"/captcha/{token}.png" in page.content.decode()
    answer = Captcha.objects.get(token=token).answer
    assert answer not in page.content.decode()
    image = client.get(f"/captcha/{token}.png")
    assert image["Content-Type"] == "image/png" and image["Cache-Control"] == "no-store"
    response = pass_captcha(client, "zhangwei_01", answer="WRONG")
    assert response.status_code == 400 and "验证码" in response.content.decode()
    assert client.get("/login/password/").status_code == 302  # no way round the captcha
    assert client.get(f"/captcha/{token}.png").status_code == 404  # burnt


@pytest.mark.req("AU-13", "AU-09")
def test_reserved_message_for_real_names_and_stable_decoys_for_unknown_ones(client, customer):
    user, _ = customer
    pass_captcha(client, "zhangwei_01")
    page = client.get("/login/password/").content.decode()
    assert user.reserved_message in page
    decoys = set()
    for _ in range(2):
        pass_captcha(client, "no_such_user")
        body = client.get("/login/password/").content.decode()
        decoys |= {p for p in PHRASES if p in body}
    assert len(decoys) == 1


@pytest.mark.req("AU-05")
def test_the_soft_keyboard_layout_changes_on_every_load(client, customer):
    pass_captcha(client, "zhangwei_01")
    layouts = set()
    for _ in range(3):
        client.get("/login/password/")
        layouts.add(client.session["login_pad"]["layout"])
    assert len(layouts) == 3
    assert all(sorted(layout) == sorted(next(iter(layouts))) for layout in layouts)


@pytest.mark.req("AU-06", "AU-03")
def test_the_page_never_holds_a_password_field_and_posts_only_ciphertext(client, customer):
    pass_captcha(client, "zhangwei_01")
    page = client.get("/login/password/").content.decode()
    assert 'type="password"' not in page and 'name="password"' not in page
    assert "data-public-key=" in page and 'readonly' in page
    _, initial = customer
    response, payload = submit_password(client, initial)
    assert initial not in payload and response.status_code == 302


@pytest.mark.req("AU-07")
def test_a_replayed_payload_is_refused(client, customer):
    _, initial = customer
    pass_captcha(client, "zhangwei_01")
    _, payload = submit_password(client, initial)
    client.post("/logout/")
    pass_captcha(client, "zhangwei_01")
    client.get("/login/password/")
    replay = client.post("/login/password/", {"payload": payload})
    assert replay.url == "/login/"
    assert "登录名或密码不正确" in client.get("/login/").content.decode()
    assert client.get("/home/").status_code == 302


@pytest.mark.req("AU-07")
def test_a_payload_for_another_nonce_is_refused(client, customer):
    _, initial = customer
    pass_captcha(client, "zhangwei_01")
    response, _ = submit_password(client, initial, nonce="made-up-nonce")
    assert response.url == "/login/" and client.get("/home/").url == "/login/"


@pytest.mark.req("ON-07", "FP-01")
def test_first_login_forces_a_password_change_before_anything_else(client, customer):
    _, initial = customer
    response = sign_in(client, "zhangwei_01", initial)
    assert response.url == "/home/"
    assert client.get("/home/").url == "/password/change/"
    weak = change_password(client, initial, "abcd1234")
    assert weak.status_code == 400 and "1234" in weak.content.decode()
    mismatch = change_password(client, initial, PASSWORD, confirm=PASSWORD + "x")
    assert mismatch.status_code == 400
    assert change_password(client, initial, PASSWORD).url == "/home/"
    assert client.get("/home/").status_code == 200


@pytest.mark.req("AU-14", "AU-15")
def test_home_shows_the_previous_sign_in_and_flags_failures(client, ready_customer, at):
    from wangyin.customers.services import personal_account_open

    account = personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    client.post("/login/")  # nothing: a POST without captcha is just refused
    pass_captcha(client, "zhangwei_01")
    submit_password(client, "Wrong1pass")
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/home/").content.decode()
    assert "127.0.0.1" in page and "error" in page  # one failure since: flagged
    assert LoginEvent.objects.filter(outcome="BAD_PASSWORD").count() == 1
    assert account.masked_number in page and account.number not in page
    assert "¥0.00" in page


@pytest.mark.req("AU-08")
def test_five_wrong_passwords_lock_and_text_the_customer(client, ready_customer, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        pass_captcha(client, "zhangwei_01")
        submit_password(client, "Wrong1pass")
    assert "锁定" in client.get("/login/").content.decode()
    assert SmsMessage.objects.filter(purpose="identity.locked").count() == 1
    assert sign_in(client, "zhangwei_01", PASSWORD).url == "/login/"
    assert client.get("/home/").url == "/login/"


@pytest.mark.req("SE-02")
def test_idle_timeout_signs_out(client, ready_customer, settings):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.get("/home/").status_code == 200
    later = clock.now() + timedelta(seconds=settings.CUSTOMER_IDLE_TIMEOUT_SECONDS + 1)
    with mock.patch("wangyin.core.clock.now", return_value=later):
        assert client.get("/session/status/").json() == {"signed_in": False}
        assert client.get("/home/").url == "/login/"
    session = CustomerSession.objects.latest("id")
    assert session.end_reason == "IDLE"
    assert "没有操作" in client.get("/login/").content.decode()


@pytest.mark.req("SE-02")
def test_status_reports_the_countdown_without_extending_it(client, ready_customer, settings):
    sign_in(client, "zhangwei_01", PASSWORD)
    client.get("/home/")
    later = clock.now() + timedelta(seconds=100)
    with mock.patch("wangyin.core.clock.now", return_value=later):
        left = client.get("/session/status/").json()["seconds_left"]
        assert settings.CUSTOMER_IDLE_TIMEOUT_SECONDS - 101 <= left <= \
            settings.CUSTOMER_IDLE_TIMEOUT_SECONDS - 99
        client.post("/session/keepalive/")
        assert client.get("/session/status/").json()["seconds_left"] >= \
            settings.CUSTOMER_IDLE_TIMEOUT_SECONDS - 1


@pytest.mark.req("SE-05")
def test_a_second_login_ends_the_first_which_says_why(client, ready_customer, django_user_model):
    from django.test import Client

    sign_in(client, "zhangwei_01", PASSWORD)
    other = Client()
    sign_in(other, "zhangwei_01", PASSWORD)
    assert other.get("/home/").status_code == 200
    assert client.get("/home/").url == "/login/"
    assert "其他地方登录" in client.get("/login/").content.decode()


@pytest.mark.req("AU-17")
def test_a_new_network_address_inside_a_session_ends_it(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.get("/home/", REMOTE_ADDR="198.51.100.7").url == "/login/"
    assert CustomerSession.objects.latest("id").end_reason == "NETWORK"


@pytest.mark.req("AU-17")
def test_a_new_device_inside_a_session_ends_it(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.get("/home/", HTTP_USER_AGENT="another browser").url == "/login/"
    assert CustomerSession.objects.latest("id").end_reason == "DEVICE"


@pytest.mark.req("SE-03", "SE-04", "SE-01")
def test_logout_ends_the_session_on_the_server(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    home = client.get("/home/")
    assert home["Cache-Control"] == "no-store"
    sid = CustomerSession.objects.latest("id").sid
    bye = client.post("/logout/", follow=True)
    assert "USB-Key" in bye.content.decode() and "/logout/" not in bye.content.decode()
    assert CustomerSession.objects.get(sid=sid).end_reason == "LOGOUT"
    assert client.get("/home/").url == "/login/"


@pytest.mark.req("SE-01")
def test_signed_in_pages_need_a_session(client):
    for url in ("/home/", "/password/change/"):
        assert client.get(url).url == "/login/"
    assert client.post("/session/keepalive/").url == "/login/"


@pytest.mark.req("SE-11")
def test_login_attempts_are_rate_limited_per_name_and_per_ip(client, customer, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_per_name": (3, 900),
                            "login_per_ip": (5, 300)}
    for _ in range(3):
        assert pass_captcha(client, "zhangwei_01").status_code == 302
    limited = pass_captcha(client, "zhangwei_01")
    assert limited.status_code == 429 and "请稍候" in limited.content.decode()
    assert pass_captcha(client, "someone_else").status_code == 302  # 5th hit from this IP
    assert pass_captcha(client, "someone_else").status_code == 429  # 6th: the IP budget


@pytest.mark.req("SE-11")
def test_rate_windows_reset(at):
    from datetime import timedelta

    from wangyin.core import ratelimit

    assert all(ratelimit.allow("t:k", limit=2, per=60, now=at) for _ in range(2))
    assert not ratelimit.allow("t:k", limit=2, per=60, now=at + timedelta(seconds=30))
    assert ratelimit.allow("t:k", limit=2, per=60, now=at + timedelta(seconds=61))
    assert ratelimit.purge(now=at + timedelta(days=2)) == 1
