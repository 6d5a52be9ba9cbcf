"""Short links, link domains, channel codes (活码) and their counters.

A Link is one short URL: /s/<slug> on the console's own host (domain empty) or <host>/<slug> on a
workspace's LinkDomain. A ChannelCode owns one Link (the stable URL its QR prints) and an ordered list
of CodeTargets it rotates between. Visits are spooled by links.redirect and turned into link.clicked
events by links.spool; LinkDay, LinkBreakdown, LinkReach and TargetDay are projections of those events.
"""
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.models import Workspace
from siyu.groups.models import Group
from siyu.members.models import Member


class LinkDomain(models.Model):
    """A host a workspace points at Siyu for its short links (e.g. go.example.cn/<slug>)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="link_domains", verbose_name=_("workspace"), db_index=False
    )
    host = models.CharField(_("host"), max_length=253, unique=True, help_text=_("Lowercase, without scheme or port."))
    is_default = models.BooleanField(_("default for new links"), default=False)
    fallback_url = models.URLField(
        _("fallback URL"), max_length=2000, blank=True, help_text=_("Where unknown slugs on this host go instead of Siyu's page."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("link domain")
        verbose_name_plural = _("link domains")
        constraints = [
            models.UniqueConstraint(fields=["workspace"], condition=Q(is_default=True), name="linkdomain_one_default"),
        ]

    def __str__(self) -> str:
        return self.host


class Link(models.Model):
    """A short URL and where it sends visitors."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="links", verbose_name=_("workspace"), db_index=False
    )
    # Empty: the console's own host under /s/, which always works.
    domain = models.ForeignKey(
        LinkDomain, null=True, blank=True, on_delete=models.PROTECT, related_name="links", verbose_name=_("domain")
    )
    slug = models.CharField(_("slug"), max_length=64)
    # Empty for a channel code's link: the code chooses the target of each visit.
    target_url = models.URLField(_("target URL"), max_length=2000, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True)
    utm_term = models.CharField(_("UTM term"), max_length=100, blank=True)
    utm_content = models.CharField(_("UTM content"), max_length=100, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_visits = models.PositiveIntegerField(_("maximum visits"), null=True, blank=True)
    # Visits counted against max_visits; only links with a maximum are counted here (see links.redirect).
    visits = models.PositiveIntegerField(_("visits counted"), default=0, editable=False)
    disabled = models.BooleanField(_("disabled"), default=False)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=100, blank=True, help_text=_("Where the link is placed (渠道)."))
    # Non-bot clicks of a link with a group are that group's exposures.
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="links", verbose_name=_("group")
    )
    fallback_url = models.URLField(
        _("fallback URL"), max_length=2000, blank=True,
        help_text=_("Where expired, exhausted or disabled visits go instead of Siyu's page."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )

    # Not columns: display values the console sets for its templates.
    short_url: str
    status: str
    status_label: Any
    clicks: int
    scans: int

    class Meta:
        verbose_name = _("short link")
        verbose_name_plural = _("short links")
        constraints = [
            models.UniqueConstraint(fields=["domain", "slug"], name="link_unique_domain_slug"),
            models.UniqueConstraint(fields=["slug"], condition=Q(domain__isnull=True), name="link_unique_default_slug"),
        ]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="link_ws_created")]

    def __str__(self) -> str:
        return f"{self.domain or '/s'}/{self.slug}"


class Strategy(models.TextChoices):
    NEXT_WHEN_FULL = "next_when_full", _("Next when full")
    ROUND_ROBIN = "round_robin", _("Round robin")
    WEIGHTED = "weighted", _("Weighted")


class ChannelCode(models.Model):
    """A channel code (活码): one printed URL, a target that changes (see links.rotation)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="channel_codes", verbose_name=_("workspace"), db_index=False
    )
    link = models.OneToOneField(Link, on_delete=models.CASCADE, related_name="channel_code", verbose_name=_("link"))
    name = models.CharField(_("name"), max_length=100)
    strategy = models.CharField(_("strategy"), max_length=16, choices=Strategy.choices, default=Strategy.NEXT_WHEN_FULL)
    backup_url = models.URLField(
        _("backup URL"), max_length=2000, blank=True, help_text=_("Where visitors go when every target is full."),
    )
    auto_create_group = models.BooleanField(
        _("create the next group when the last one fills"), default=False,
        help_text=_("Only on channels that can create groups (Matrix)."),
    )
    # Visits handed out by round robin and weighted rotation; also their deterministic seed.
    cursor = models.PositiveBigIntegerField(default=0, editable=False)
    # When a group was last requested through the outbox, so a full code asks once, not once per visit.
    group_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Not columns: display values the console sets for its templates.
    short_url: str
    rows: list[Any]
    live: Any

    class Meta:
        verbose_name = _("channel code")
        verbose_name_plural = _("channel codes")

    def __str__(self) -> str:
        return self.name


class CodeTarget(models.Model):
    """One place a channel code can send visitors: usually a group's invite link."""

    code = models.ForeignKey(ChannelCode, on_delete=models.CASCADE, related_name="targets", verbose_name=_("channel code"))
    position = models.PositiveIntegerField(_("position"), default=0)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="code_targets", verbose_name=_("group")
    )
    url = models.URLField(_("URL"), max_length=2000, help_text=_("Usually the group's invite link."))
    # Members for a target with a group (live count from the projections), visitors sent for one without.
    capacity = models.PositiveIntegerField(_("capacity"), default=200)
    weight = models.PositiveIntegerField(_("weight"), default=1)
    daily_cap = models.PositiveIntegerField(_("daily cap"), null=True, blank=True, help_text=_("Visitors a day at most."))
    active = models.BooleanField(_("active"), default=True)
    # Visitors sent by redirects and not yet flushed into TargetDay (links.spool moves them over).
    pending_sends = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("code target")
        verbose_name_plural = _("code targets")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["code", "position"], name="codetarget_code_pos")]

    def __str__(self) -> str:
        return f"{self.code} #{self.position}"


class LinkDay(models.Model):
    """Projection: a link's visits on one day (workspace time zone), from link.clicked events."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField()
    clicks = models.PositiveIntegerField(default=0)  # visits without the qr=1 marker
    scans = models.PositiveIntegerField(default=0)  # visits with it
    bots = models.PositiveIntegerField(default=0)
    humans = models.PositiveIntegerField(default=0)
    wechat = models.PositiveIntegerField(default=0)  # in WeChat's in-app browser
    members_reached = models.PositiveIntegerField(default=0)  # members whose first visit of the link was this day

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "day"], name="linkday_unique")]
        indexes = [models.Index(fields=["workspace", "day"], name="linkday_ws_day")]


class BreakdownKind(models.TextChoices):
    DEVICE = "device", _("Device")
    OS = "os", _("Operating system")
    BROWSER = "browser", _("Browser")
    REFERER = "referer", _("Referrer")


class LinkBreakdown(models.Model):
    """Projection: a link's human visits on one day by device, OS, browser or referring host."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="breakdowns", db_index=False)
    day = models.DateField()
    kind = models.CharField(max_length=8, choices=BreakdownKind.choices)
    value = models.CharField(max_length=100)
    visits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "day", "kind", "value"], name="linkbreakdown_unique")]


class LinkReach(models.Model):
    """Projection: a member's first visit of a link (members_reached counts these)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="reach", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    first_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "member"], name="linkreach_unique")]


class TargetDay(models.Model):
    """Projection: visitors a channel code sent to one target on one day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    target = models.ForeignKey(CodeTarget, on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField()
    sends = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "day"], name="targetday_unique")]


class SpoolOffset(models.Model):
    """How far links.spool has ingested one click spool file, in bytes of complete lines."""

    file_name = models.CharField(max_length=255, unique=True)
    offset = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
