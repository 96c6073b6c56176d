"""The login password change is one form for both channels (ON-07, AU-05): the personal and
the corporate page include ``web/password_change_form.html`` — the current password and the
new one twice on the soft keyboard — each posting to its own channel's page."""

# ruff: noqa: F811 - fixtures imported from the conftest modules are parameters

import pytest

from tests.corpweb.conftest import sign_in
from tests.web.conftest import customer  # noqa: F401 -- fixture
from wangyin.corporate.models import Operator

pytestmark = pytest.mark.django_db


@pytest.mark.req("ON-07", "AU-05")
def test_the_personal_and_corporate_password_change_share_one_form(
    client, service, enterer, key_of
):
    """One include for both channels: the same soft-keyboard fields, each posting to its
    own channel's page."""
    Operator.objects.filter(pk=enterer.pk).update(must_change_password=True)
    sign_in(client, enterer, key_of(enterer))
    corporate = client.get("/corp/password/change/")
    assert "web/password_change_form.html" in [t.name for t in corporate.templates]
    page = corporate.content.decode()
    assert 'action="/corp/password/change/"' in page
    for field in ('data-field="current"', 'data-field="new"', 'data-field="confirm"'):
        assert page.count(field) == 1
    client.post("/corp/logout/")


@pytest.mark.req("ON-07", "AU-05")
def test_the_personal_password_change_uses_the_shared_form(client, customer):  # noqa: F811
    from tests.web.conftest import sign_in as personal_sign_in  # the same name here

    _, initial = customer
    personal_sign_in(client, "zhangwei_01", initial)
    personal = client.get("/password/change/")
    assert "web/password_change_form.html" in [t.name for t in personal.templates]
    page = personal.content.decode()
    assert 'action="/password/change/"' in page and 'data-field="current"' in page
