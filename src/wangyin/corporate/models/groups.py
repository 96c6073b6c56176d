"""Group view (FC-08) and accounts linked online with dual approval (ON-05)
(``corporate.groups``).

- ``GroupGrant``: at the counter, with the subsidiary's written authorisation, the bank lets
  a parent company's service see one account of another company (balance and details,
  read only). Ending it takes effect at once: every page checks the live grant.
- ``GroupViewer``: which of the parent's operators (other than the administrator, who always
  may) see the granted accounts — set by the administrator, signed with their USB-Key.
- ``AccountLinkRequest``: the administrator asks to link one of the company's own accounts
  (signed), an authorising operator approves (signed), the company's contact confirms with
  the code the bank sends to the contact's mobile; only then is the account linked."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import pgettext_lazy


class GroupGrant(models.Model):
    """One account of a subsidiary (another company) the parent's service may see."""

    service = models.ForeignKey("corporate.CorporateService", on_delete=models.PROTECT,
                                related_name="group_grants")  # the parent's
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="group_grants")  # the subsidiary's
    # The reference of the subsidiary's written authorisation kept at the counter.
    authorisation_ref = models.CharField(max_length=60)
    reason = models.CharField(max_length=200, blank=True)
    granted_at = models.DateTimeField()
    granted_by = models.CharField(max_length=40)  # "staff:<username>"
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=40, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "account"],
                                    condition=Q(ended_at__isnull=True),
                                    name="corporate_group_grant_live_once"),
            models.CheckConstraint(condition=~Q(authorisation_ref=""),
                                   name="corporate_group_grant_has_authorisation"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | ~Q(ended_by=""),
                                   name="corporate_group_grant_ended_by_whom"),
        ]

    def __str__(self) -> str:
        return f"group_grant:{self.pk}"


class GroupViewer(models.Model):
    """An operator (not the administrator) the administrator lets see the group's accounts;
    each grant and each end is a kept USB-Key signature of the administrator."""

    operator = models.ForeignKey("corporate.Operator", on_delete=models.PROTECT,
                                 related_name="group_views")
    granted_at = models.DateTimeField()
    granted_by = models.CharField(max_length=40)  # "operator:<administrator>"
    signature = models.OneToOneField("authn.Signature", on_delete=models.PROTECT,
                                     related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=40, blank=True)
    end_signature = models.OneToOneField("authn.Signature", on_delete=models.PROTECT,
                                         null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator"], condition=Q(ended_at__isnull=True),
                                    name="corporate_group_viewer_live_once"),
        ]


class LinkRequestStatus(models.TextChoices):
    REQUESTED = "REQUESTED", pgettext_lazy("link request", "Awaiting approval")
    APPROVED = "APPROVED", pgettext_lazy("link request", "Awaiting the contact's code")
    LINKED = "LINKED", pgettext_lazy("link request", "Linked")
    REJECTED = "REJECTED", pgettext_lazy("link request", "Rejected")
    CANCELLED = "CANCELLED", pgettext_lazy("link request", "Cancelled")
    EXPIRED = "EXPIRED", pgettext_lazy("link request", "Expired")
    FAILED = "FAILED", pgettext_lazy("link request", "Not confirmed")


LINK_OPEN = (LinkRequestStatus.REQUESTED, LinkRequestStatus.APPROVED)


class AccountLinkRequest(models.Model):
    """Linking one of the company's own accounts online (ON-05): two USB-Key signatures
    over ``digest`` (the service and the account), then the company contact's code."""

    service = models.ForeignKey("corporate.CorporateService", on_delete=models.PROTECT,
                                related_name="link_requests")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="+")
    status = models.CharField(max_length=9, choices=LinkRequestStatus.choices)
    digest = models.CharField(max_length=64)  # what both signatures are about
    requested_by = models.ForeignKey("corporate.Operator", on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField()
    request_signature = models.OneToOneField("authn.Signature", on_delete=models.PROTECT,
                                             related_name="+")
    approved_by = models.ForeignKey("corporate.Operator", on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_signature = models.OneToOneField("authn.Signature", on_delete=models.PROTECT,
                                              null=True, blank=True, related_name="+")
    expires_at = models.DateTimeField()
    # The confirmation code sent to the company's contact (a keyed hash, never the code).
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    link = models.OneToOneField("corporate.ServiceAccount", on_delete=models.PROTECT,
                                null=True, blank=True, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=40, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "account"],
                                    condition=Q(status__in=["REQUESTED", "APPROVED"]),
                                    name="corporate_link_request_open_once"),
            models.CheckConstraint(condition=Q(approved_by__isnull=True)
                                   | ~Q(approved_by=F("requested_by")),
                                   name="corporate_link_request_two_operators"),
            models.CheckConstraint(condition=Q(status__in=["REQUESTED", "APPROVED"])
                                   | Q(ended_at__isnull=False),
                                   name="corporate_link_request_ended_has_time"),
            models.CheckConstraint(condition=~Q(status="LINKED")
                                   | Q(link__isnull=False, approval_signature__isnull=False),
                                   name="corporate_link_request_linked_when_approved"),
        ]

    def __str__(self) -> str:
        return f"link_request:{self.pk}"

