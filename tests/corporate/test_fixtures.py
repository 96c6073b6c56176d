"""The shared fixtures hold together: an operator's key signs for their company."""

import pytest

from tests.corporate.conftest import signed_challenge
from wangyin.authn.models import Signature

pytestmark = pytest.mark.django_db


@pytest.mark.req("FC-01")
def test_each_operator_signs_with_the_key_for_this_company(service, admin, enterer, sign,
                                                             now):
    challenge = signed_challenge(enterer, purpose="corporate.approve", digest="a" * 64,
                                 summary="test", at=now, sign=sign)
    assert challenge.verified_at is not None
    assert Signature.objects.get(challenge=challenge).person == enterer.person
    assert enterer.person != admin.person and service.accounts.count() == 2
