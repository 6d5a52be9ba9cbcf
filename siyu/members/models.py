from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")


class Member(models.Model):
    """One person, known on one or more channels through identities."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="members", verbose_name=_("workspace"), db_index=False
    )
    number = models.PositiveBigIntegerField(_("member number"), editable=False)
    display_name = models.CharField(_("display name"), max_length=128)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, default=Gender.UNKNOWN, blank=True)
    city = models.CharField(_("city"), max_length=64, blank=True)
    remark = models.CharField(_("remark"), max_length=200, blank=True)
    profile = models.JSONField(_("profile"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Projection of member.barred / member.unbarred: a barred member cannot enroll in new campaigns.
    barred_at = models.DateTimeField(_("barred at"), null=True, blank=True, editable=False)
    barred_reason = models.CharField(_("reason barred"), max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["workspace", "number"], name="member_unique_number")]

    def __str__(self):
        return f"#{self.number} {self.display_name}"


class Identity(models.Model):
    """A member's id on one channel (a Matrix user id, a WeCom external_userid, …)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="identities", verbose_name=_("member"))
    channel = models.CharField(_("channel"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=191)
    display_name = models.CharField(_("name on channel"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "channel", "external_id"], name="identity_unique_external"),
        ]

    def __str__(self):
        return f"{self.channel}:{self.external_id}"


class MemberStats(models.Model):
    """Projection: a member's activity totals, maintained by ingest."""

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    first_seen_at = models.DateTimeField(null=True)
    last_seen_at = models.DateTimeField(null=True)
    last_message_at = models.DateTimeField(null=True)
    messages = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    spend_cents = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("member stats")
        verbose_name_plural = _("member stats")


class MemberDailyActivity(models.Model):
    """Projection: messages a member sent in one group on one day (workspace time zone)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    messages = models.PositiveIntegerField(default=0)

    class Meta:
        # Day first: a batch's rows land together (few pages to write) and "the last N days" is one range.
        constraints = [models.UniqueConstraint(fields=["day", "group", "member"], name="memberday_unique")]
