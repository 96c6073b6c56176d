"""Parties (persons and companies) and the deposit accounts they hold.

Identity document numbers and phones are encrypted at rest (``EncryptedTextField``) and
found through keyed blind indexes (``*_index``); see ``wangyin.core.crypto``. Each
customer account is backed by one ledger account, which holds its balance and status.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangyin.core import masking
from wangyin.core.fields import EncryptedTextField


class IdType(models.TextChoices):
    RESIDENT_ID = "RESIDENT_ID", _("Resident identity card")
    PASSPORT = "PASSPORT", _("Passport")
    HK_MACAO_PERMIT = "HK_MACAO_PERMIT", _("Mainland travel permit for Hong Kong and Macao")
    TAIWAN_PERMIT = "TAIWAN_PERMIT", _("Mainland travel permit for Taiwan residents")
    FOREIGN_PERMANENT = "FOREIGN_PERMANENT", _("Foreigner's permanent residence ID card")


class Product(models.TextChoices):
    # 个人银行账户分类 (PBOC Yinfa [2015] No. 392, [2016] No. 302)
    PERSONAL_I = "PERSONAL_I", _("Class I personal account")
    PERSONAL_II = "PERSONAL_II", _("Class II personal account")
    PERSONAL_III = "PERSONAL_III", _("Class III personal account")
    # 单位银行结算账户 (Measures for RMB bank settlement accounts)
    CORPORATE_BASIC = "CORPORATE_BASIC", _("Basic deposit account")
    CORPORATE_GENERAL = "CORPORATE_GENERAL", _("General deposit account")
    CORPORATE_SPECIAL = "CORPORATE_SPECIAL", _("Special deposit account")
    CORPORATE_TEMPORARY = "CORPORATE_TEMPORARY", _("Temporary deposit account")


PERSONAL_PRODUCTS = (Product.PERSONAL_I, Product.PERSONAL_II, Product.PERSONAL_III)
CORPORATE_PRODUCTS = (Product.CORPORATE_BASIC, Product.CORPORATE_GENERAL,
                      Product.CORPORATE_SPECIAL, Product.CORPORATE_TEMPORARY)


class Person(models.Model):
    name = models.CharField(max_length=60)
    id_type = models.CharField(max_length=20, choices=IdType.choices)
    id_number = EncryptedTextField(purpose="customers.person.id_number")
    id_number_index = models.CharField(max_length=64)
    birth_date = models.DateField()
    phone = EncryptedTextField(purpose="customers.person.phone")
    phone_index = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["id_type", "id_number_index"],
                                    name="customers_person_one_per_document"),
        ]

    def __str__(self) -> str:
        return f"person:{self.pk} {masking.mask_name(self.name)}"

    @property
    def masked_name(self) -> str:
        return masking.mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return masking.mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return masking.mask_phone(self.phone)


class Company(models.Model):
    name = models.CharField(max_length=120)
    # Credit codes are public registry data (National Enterprise Credit Information System).
    uscc = models.CharField(max_length=18, unique=True)
    legal_rep_name = models.CharField(max_length=60)
    legal_rep_id_type = models.CharField(max_length=20, choices=IdType.choices)
    legal_rep_id_number = EncryptedTextField(purpose="customers.company.legal_rep_id_number")
    legal_rep_id_index = models.CharField(max_length=64, db_index=True)
    contact_name = models.CharField(max_length=60)
    contact_phone = EncryptedTextField(purpose="customers.company.contact_phone")
    contact_phone_index = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return f"company:{self.pk} {self.name}"


class CustomerAccount(models.Model):
    number = models.CharField(max_length=19, unique=True)
    product = models.CharField(max_length=20, choices=Product.choices)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="accounts")
    company = models.ForeignKey(Company, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="accounts")
    ledger_account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT,
                                          related_name="customer_account")
    face_to_face = models.BooleanField(default=False)
    expires_on = models.DateField(null=True, blank=True)
    opened_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(person__isnull=False, company__isnull=True,
                             product__in=PERSONAL_PRODUCTS)
                           | Q(person__isnull=True, company__isnull=False,
                               product__in=CORPORATE_PRODUCTS)),
                name="customers_account_owner_matches_product",
            ),
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{19}$"),
                                   name="customers_account_number_digits"),
            models.CheckConstraint(
                condition=Q(product=Product.CORPORATE_TEMPORARY) | Q(expires_on__isnull=True),
                name="customers_account_only_temporary_expires",
            ),
            # One Class I account per person and one basic account per company at this bank.
            models.UniqueConstraint(fields=["person"], condition=Q(product=Product.PERSONAL_I),
                                    name="customers_one_class_i_per_person"),
            models.UniqueConstraint(fields=["company"],
                                    condition=Q(product=Product.CORPORATE_BASIC),
                                    name="customers_one_basic_per_company"),
        ]

    def __str__(self) -> str:
        return f"{masking.mask_account(self.number)} {self.product}"

    @property
    def masked_number(self) -> str:
        return masking.mask_account(self.number)
