"""The message centre (消息中心) in the web bank: newest first, unread marked and counted in
the navigation, opened by its owner only."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.payments.conftest import instruction, pay
from wangyin.customers.services import personal_account_open
from wangyin.identity.models import Device
from wangyin.notify import services as notify
from wangyin.notify.models import Notice

from .conftest import PASSWORD, bind_device, pass_captcha, sign_in, submit_password

pytestmark = pytest.mark.django_db


def _credit(person, at, yuan_fen=12_345, payer="*七"):
    return notify.notice_send(person=person, kind="funds.credit", at=at,
                              params={"tail": "0001", "amount_fen": yuan_fen, "payer": payer})


@pytest.fixture
def signed_in(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    return ready_customer


@pytest.mark.req("CS-05")
def test_sign_in_and_a_new_device_are_security_messages(client, ready_customer):
    Device.objects.all().delete()
    Notice.objects.all().delete()
    pass_captcha(client, "zhangwei_01")
    submit_password(client, PASSWORD)
    assert bind_device(client).url == "/home/"
    kinds = list(Notice.objects.filter(person_id=ready_customer.person_id)
                 .order_by("id").values_list("kind", "params"))
    assert [k for k, _ in kinds] == ["security.device_bound", "security.login"]
    assert all(params["device"] for _, params in kinds)


@pytest.mark.req("CS-05", "TX-09")
def test_the_list_shows_newest_first_and_counts_unread_in_the_menu(client, signed_in, at):
    Notice.objects.all().delete()
    old = _credit(signed_in.person, at, payer="*老")
    new = _credit(signed_in.person, at + timedelta(minutes=5), payer="*新")
    page = client.get("/messages/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("*新") < html.index("*老")
    assert html.count('class="inbox-item unread"') == 2
    assert f'href="/messages/{new.pk}/"' in html and f'href="/messages/{old.pk}/"' in html
    assert "¥123.45" in html and "尾号0001" in html  # Chinese by default
    home = client.get("/home/").content.decode()
    assert 'id="nav-messages"' in home and '<span class="badge"' in home
    assert ">2</span>" in home


@pytest.mark.req("CS-05")
def test_opening_a_message_marks_it_read(client, signed_in, at):
    Notice.objects.all().delete()
    notice = _credit(signed_in.person, at)
    page = client.get(f"/messages/{notice.pk}/")
    assert page.status_code == 200 and "¥123.45" in page.content.decode()
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert '<span class="badge"' not in client.get("/messages/").content.decode()


def test_mark_all_read_and_the_category_filter(client, signed_in, at):
    Notice.objects.all().delete()
    _credit(signed_in.person, at)
    notify.notice_send(person=signed_in.person, kind="security.password_changed", params={},
                       at=at)
    funds = client.get("/messages/?category=FUNDS").content.decode()
    assert "¥123.45" in funds and funds.count('class="inbox-item') == 1
    response = client.post("/messages/read/", {"category": "FUNDS"})
    assert response.url == "/messages/?category=FUNDS"
    assert list(Notice.objects.filter(read_at__isnull=True).values_list("kind", flat=True)) \
        == ["security.password_changed"]
    client.post("/messages/read/")
    assert not Notice.objects.filter(read_at__isnull=True).exists()
    assert client.get("/messages/?category=BOGUS").status_code == 200


def test_another_customers_message_is_not_found(client, signed_in, make_person, at):
    other = make_person(id_type="PASSPORT", id_number="E32345678", name="王五",
                        phone="13900000003")
    theirs = _credit(other, at, payer="*秘")
    assert client.get(f"/messages/{theirs.pk}/").status_code == 404
    client.post("/messages/read/")
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert "*秘" not in client.get("/messages/").content.decode()


def test_an_empty_message_centre_says_so_in_chinese_and_english(client, signed_in):
    Notice.objects.all().delete()
    page = client.get("/messages/").content.decode()
    assert 'id="no-messages"' in page and "消息" in page
    client.post("/i18n/language/", {"language": "en", "next": "/messages/"})
    english = client.get("/messages/").content.decode()
    assert "You have no messages yet" in english and "Messages" in english


def test_a_transfer_message_links_to_the_transfer(client, signed_in, at, fund):
    account = personal_account_open(person_id=signed_in.person_id, product="PERSONAL_I",
                           face_to_face=True, actor="staff:1", opened_at=at)
    fund(account.ledger_account, "1000.00")
    own = personal_account_open(person_id=signed_in.person_id, product="PERSONAL_II",
                                face_to_face=True, actor="staff:1", opened_at=at)
    transfer = pay(signed_in, instruction(account, own, yuan="10.00", name="张伟"), at)
    notice = Notice.objects.get(kind="funds.debit")
    page = client.get(f"/messages/{notice.pk}/").content.decode()
    assert f'href="/transfers/{transfer.pk}/"' in page


def test_signed_out_visitors_are_sent_to_sign_in():
    assert Client().get("/messages/").url == "/login/"
