from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace
from siyu.members.models import Member


class GroupKind(models.TextChoices):
    LEAD = "lead", _("Lead group")
    PERKS = "perks", _("Perks group")
    FLASH = "flash", _("Flash group")
    CORE = "core", _("Core group")
    SERVICE = "service", _("Service group")


class GroupStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class Group(models.Model):
    """One chat group on one channel."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="groups", verbose_name=_("workspace"), db_index=False
    )
    channel = models.CharField(_("channel"), max_length=32)
    external_id = models.CharField(_("external id"), max_length=191)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=16, choices=GroupKind.choices, default=GroupKind.LEAD)
    capacity = models.PositiveIntegerField(_("capacity"), default=500)
    status = models.CharField(_("status"), max_length=16, choices=GroupStatus.choices, default=GroupStatus.ACTIVE)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "channel", "external_id"], name="group_unique_external"),
        ]

    def __str__(self):
        return self.name


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Group owner")
    ADMIN = "admin", _("Group admin")
    KOC = "koc", _("KOC")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    """Projection: one stay of a member in a group. Leaving closes it; rejoining opens a new one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("group"), db_index=False
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("member"), db_index=False
    )
    role = models.CharField(_("role"), max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER)
    joined_at = models.DateTimeField(_("joined at"))
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "member"], condition=models.Q(left_at__isnull=True), name="membership_one_open"
            ),
        ]
        indexes = [
            models.Index(fields=["group", "left_at"], name="membership_group_open"),
            models.Index(fields=["member", "joined_at"], name="membership_member"),
            models.Index(fields=["workspace", "left_at"], name="membership_ws_open"),
        ]


class GroupDailyStats(models.Model):
    """Projection: a group's counters for one day in the workspace's time zone."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="daily_stats", db_index=False)
    day = models.DateField()
    joins = models.PositiveIntegerField(default=0)
    leaves = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    exposures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="groupday_unique")]
        indexes = [models.Index(fields=["workspace", "day"], name="groupday_ws_day")]


class GroupStats(models.Model):
    """Projection: a group's live figures (members now), so lists never count memberships."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    members_now = models.IntegerField(_("members now"), default=0)

    class Meta:
        verbose_name = _("group stats")
        verbose_name_plural = _("group stats")
