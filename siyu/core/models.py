import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .events import EVENT_LABELS, EventType


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("%(tz)s is not a known time zone."), params={"tz": value}) from exc


class Workspace(models.Model):
    """One operator organisation (tenant). Every other row belongs to exactly one."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone])
    # Last member number handed out (学号); only ever increases, so numbers are never reused.
    member_number_seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")
    SALES = "sales", _("Sales")
    VIEWER = "viewer", _("Viewer")


class StaffRole(models.Model):
    """A staff member's role in one workspace; a user may belong to several workspaces."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="staff", verbose_name=_("workspace"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_roles", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    # Not columns: display values the console sets for its templates.
    locked: bool
    choices: list[tuple[str, Any]]

    class Meta:
        verbose_name = _("staff role")
        verbose_name_plural = _("staff roles")
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="staffrole_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} · {self.workspace} · {self.get_role_display()}"

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def can_operate(self) -> bool:
        """May change what the bot does and sends (owners, admins, operators)."""
        return self.role in (Role.OWNER, Role.ADMIN, Role.OPERATOR)


class Event(models.Model):
    """One thing that happened, appended once and never changed. The truth every projection derives from."""

    # Foreign keys whose index another index already starts with are not indexed again: every index
    # is written on every append.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", verbose_name=_("workspace"), db_index=False
    )
    type = models.PositiveSmallIntegerField(_("type"), choices=[(t.value, EVENT_LABELS[t]) for t in EventType])
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    source = models.CharField(_("channel"), max_length=32)
    source_id = models.CharField(_("source id"), max_length=191)
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False,
        verbose_name=_("member"),
    )
    group = models.ForeignKey(
        "groups.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False,
        verbose_name=_("group"),
    )
    data = models.JSONField(_("data"), default=dict, blank=True)

    # Not columns: what the event says and who made it, in words (HTML), set by console.event_text.
    detail: str
    made_by: str

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "source", "source_id"], name="event_unique_source_id"),
        ]
        indexes = [
            # Partial: exposures have no member and orders no group; `member = x` queries still use them.
            models.Index(fields=["member", "occurred_at"], name="event_member_time", condition=Q(member__isnull=False)),
            models.Index(fields=["group", "occurred_at"], name="event_group_time", condition=Q(group__isnull=False)),
            # The events analytics turns into facts (joins, orders, refunds, costs, campaign touches):
            # a rebuild reads them without scanning the messages. Keep in step with analytics.rollups.FACT_TYPES.
            models.Index(fields=["workspace", "id"], name="event_facts", condition=Q(type__in=[302, 501, 502, 503, 601])),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.source}:{self.source_id}"


class AuditEntry(models.Model):
    """Who did what sensitive or sweeping thing, when: handovers, merges, imports, exports, erasures,
    revealing a contact. Appended, never changed; `data` says what exactly (counts, ids, filters)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    action = models.CharField(_("action"), max_length=32)
    subject = models.CharField(_("subject"), max_length=191, blank=True)  # e.g. "member:12", "import:3"
    data = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["workspace", "at"], name="audit_workspace_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Queued")
    CLAIMED = "claimed", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    """A side effect to perform on a channel, durably queued; claimed by one worker at a time."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", verbose_name=_("workspace"), db_index=False
    )
    channel = models.CharField(_("channel"), max_length=32)
    kind = models.CharField(_("kind"), max_length=32)
    target = models.CharField(_("target"), max_length=191)
    payload = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=191)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(_("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Put back by the platform ("slow down", a temporary error) or by our own rate limit: later messages
    # to the same target wait behind it, so a room sees the bot's messages in the order they were queued.
    held = models.BooleanField(default=False)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Not columns: display values the console sets for its templates (console.event_text.outbox_describe).
    target_name: str
    content: str

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "idempotency_key"], name="outbox_unique_key"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="outbox_due"),
            # The held messages, which keep later messages to their target back (see core.outbox).
            models.Index(fields=["workspace", "channel", "target", "id"], name="outbox_held", condition=Q(held=True)),
            models.Index(fields=["workspace", "status", "id"], name="outbox_ws_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.target} ({self.get_status_display()})"


class OutboxRateBucket(models.Model):
    """One rate limit's state (a bot, a room): the generic cell rate algorithm's theoretical arrival time.

    `tat` is in seconds since the epoch; a send is allowed while tat stays within the burst of now.
    Shared by every worker through the database, so two workers together keep to the platform's limit.
    """

    key = models.CharField(max_length=191, primary_key=True)
    tat = models.FloatField(default=0)
