from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
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
    # The staff member in charge of the group (its 群管理 duties); moved by a handover.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups_in_charge",
        verbose_name=_("staff in charge"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Not columns: the figures groups.selectors.group_list puts on each group it lists.
    members_now: int
    joins_7d: int
    leaves_7d: int
    messages_7d: int

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "channel", "external_id"], name="group_unique_external"),
        ]

    def __str__(self) -> str:
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


# -- The group bot's rules (issue 5) ---------------------------------------------------------------
# A row with group=None is the workspace-wide default; a row with a group applies to that group only.

DEFAULT_WELCOME_TEXT = "{name} 鼓掌欢迎新来的小伙伴!欢迎加入「{group}」,你的学号:{number}。\n{rules}"
DEFAULT_RULES_TEXT = "群规:禁止广告刷屏(违规者警告→移除);每日 19:00-21:00 为话题讨论时间;优质分享可获积分。"
DEFAULT_WARNING_TEXT = "{name} 请注意:你的消息违反了「{rule}」,警告 {strike}/{limit}。达到 {limit} 次将被移出本群。"
WELCOME_WINDOW_MAX = 600
HOUR, DAY = 3600, 86_400
REJOIN_WINDOWS = [
    (0, _("welcome every join")), (HOUR, _("1 hour")), (6 * HOUR, _("6 hours")), (DAY, _("1 day")),
    (3 * DAY, _("3 days")), (7 * DAY, _("7 days")), (30 * DAY, _("30 days")),
]


def _validate_domains(value: str) -> None:
    from .rules import domains_error

    if message := domains_error(value):
        raise ValidationError(message)


class BotSettings(models.Model):
    """The bot's behaviour in a group: one workspace-wide row (group empty) and optional per-group rows.

    A group's own row replaces the workspace row as a whole (it starts as a copy of it); deleting it
    puts the group back on the workspace defaults. Defaults come from seeds 002-004: a welcome that
    mentions every newcomer, the group rules, and "警告→移除" (2 strikes in 30 days, then removed).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.OneToOneField(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="bot_settings", verbose_name=_("group")
    )
    welcome_enabled = models.BooleanField(_("welcome newcomers"), default=True)
    welcome_text = models.TextField(
        _("welcome text"), max_length=2000, default=DEFAULT_WELCOME_TEXT,
        help_text=_("Variables: {name} (every newcomer, as mentions), {number} (their member numbers), {group}, {rules}."),
    )
    welcome_window_seconds = models.PositiveIntegerField(
        _("welcome window (seconds)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(WELCOME_WINDOW_MAX)],
        help_text=_("Newcomers who join within this many seconds of each other are welcomed in one message."),
    )
    welcome_max_wait_seconds = models.PositiveIntegerField(
        _("longest wait for a welcome (seconds)"), default=60,
        validators=[MinValueValidator(1), MaxValueValidator(WELCOME_WINDOW_MAX)],
        help_text=_("During a steady stream of joins, the welcome goes out at the latest this long after the first join."),
    )
    welcome_rejoin_seconds = models.PositiveIntegerField(
        _("no second welcome for a rejoin within"), default=DAY, choices=REJOIN_WINDOWS,
        help_text=_("Someone who left the group and joins again within this time is not welcomed again."),
    )
    rules_text = models.TextField(_("group rules (群规)"), max_length=2000, blank=True, default=DEFAULT_RULES_TEXT)
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    strike_limit = models.PositiveSmallIntegerField(
        _("strikes before removal"), default=2, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    strike_days = models.PositiveSmallIntegerField(
        _("strikes count for (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    bar_on_removal = models.BooleanField(
        _("bar removed members workspace-wide"), default=True,
        help_text=_("A barred member cannot enroll in new campaigns."),
    )
    warning_text = models.TextField(
        _("warning text"), max_length=1000, default=DEFAULT_WARNING_TEXT,
        help_text=_("Variables: {name} (the sender, as a mention), {rule}, {strike}, {limit}."),
    )
    allowed_domains = models.TextField(
        _("allowed link domains"), blank=True, validators=[_validate_domains],
        help_text=_("One domain per line (subdomains included); links elsewhere break a links rule."),
    )
    reply_cooldown_seconds = models.PositiveIntegerField(
        _("keyword reply cooldown (seconds)"), default=60, validators=[MaxValueValidator(86_400)]
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("bot settings")
        verbose_name_plural = _("bot settings")
        constraints = [
            models.UniqueConstraint(fields=["workspace"], condition=Q(group__isnull=True), name="botsettings_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.group or self.workspace}"

    def clean(self) -> None:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValidationError(_("Give both a start and an end for quiet hours, or neither."))
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValidationError(_("Quiet hours must not start and end at the same time."))
        if self.welcome_max_wait_seconds < self.welcome_window_seconds:
            raise ValidationError(_("The longest wait must be at least the welcome window."))

    @property
    def domains(self) -> list[str]:
        return [d.strip().lower() for d in self.allowed_domains.splitlines() if d.strip()]


class MatchKind(models.TextChoices):
    EXACT = "exact", _("Is exactly")
    CONTAINS = "contains", _("Contains")
    REGEX = "regex", _("Matches the regular expression")


class KeywordReply(models.Model):
    """A keyword and the bot's answer; group rules are tried before workspace-wide ones, then by priority."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("group")
    )
    match = models.CharField(_("match"), max_length=16, choices=MatchKind.choices, default=MatchKind.CONTAINS)
    pattern = models.CharField(_("keyword or pattern"), max_length=200)
    reply = models.TextField(
        _("reply"), max_length=2000,
        help_text=_("Variables: {name} (the asker, as a mention), {number}, {group}, {rules}."),
    )
    mention_asker = models.BooleanField(
        _("mention the asker"), default=False,
        help_text=_("The reply starts with @the asker, who is notified (a reply with {name} mentions them where {name} stands)."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    priority = models.SmallIntegerField(_("priority"), default=100, help_text=_("Lower numbers are tried first."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("keyword reply")
        verbose_name_plural = _("keyword replies")
        indexes = [models.Index(fields=["workspace", "group"], name="keywordreply_scope")]

    def __str__(self) -> str:
        return self.pattern

    @property
    def pattern_problem(self) -> str | None:
        """Why this reply's stored pattern cannot run (so it never fires), or None: rules saved before RE2 checked them."""
        from .rules import pattern_error

        return pattern_error(self.pattern) if self.match == MatchKind.REGEX else None

    def clean(self) -> None:
        if message := self.pattern_problem:
            raise ValidationError({"pattern": message})


class ModerationKind(models.TextChoices):
    WORDS = "words", _("Banned words")
    REGEX = "regex", _("Regular expression")
    LINKS = "links", _("Links not on the allow-list")
    INVITES = "invites", _("Invite codes (other groups and rooms)")


class ModerationRule(models.Model):
    """What the bot must not let pass, and what it does when a message breaks it.

    Group owners, admins and KOCs are exempt unless `applies_to_staff` is set. A strike counts towards
    removal after the group's N strikes within D days; removal also bars the member workspace-wide
    when both the group's policy and this rule say so.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("group")
    )
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=ModerationKind.choices, default=ModerationKind.WORDS)
    words = models.TextField(
        _("words or pattern"), max_length=4000, blank=True,
        help_text=_("Banned words: one per line. Regular expression: the pattern. Invite codes: extra phrases, one per line."),
    )
    delete_message = models.BooleanField(_("delete the message"), default=True)
    warn = models.BooleanField(_("warn the sender"), default=True)
    count_strike = models.BooleanField(_("count a strike"), default=True)
    bar_on_removal = models.BooleanField(_("bar on removal"), default=True)
    applies_to_staff = models.BooleanField(
        _("applies to owners, admins and KOCs too"), default=False
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("moderation rule")
        verbose_name_plural = _("moderation rules")
        indexes = [models.Index(fields=["workspace", "group"], name="modrule_scope")]

    def __str__(self) -> str:
        return self.name

    @property
    def pattern_problem(self) -> str | None:
        """Why this rule's stored pattern cannot run (so it never matches), or None: rules saved before RE2 checked them."""
        from .rules import pattern_error

        return pattern_error(self.words.strip()) if self.kind == ModerationKind.REGEX and self.words.strip() else None

    def clean(self) -> None:
        if self.kind == ModerationKind.REGEX:
            if not self.words.strip():
                raise ValidationError({"words": _("Give the regular expression.")})
            if message := self.pattern_problem:
                raise ValidationError({"words": message})
        if self.kind == ModerationKind.WORDS and not self.word_list:
            raise ValidationError({"words": _("Give at least one banned word.")})

    @property
    def word_list(self) -> list[str]:
        return [w.strip() for w in self.words.splitlines() if w.strip()]


class Repeat(models.TextChoices):
    NONE = "none", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    HOURS = "hours", _("Every N hours")


class Announcement(models.Model):
    """A group announcement (群公告), posted once or on a schedule, to one group or every active group of a channel."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("group")
    )
    channel = models.CharField(_("channel"), max_length=32, help_text=_("Without a group: every active group of this channel."))
    text = models.TextField(_("text"), max_length=4000)
    repeat = models.CharField(_("repeat"), max_length=8, choices=Repeat.choices, default=Repeat.NONE)
    every_hours = models.PositiveSmallIntegerField(
        _("every N hours"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(24 * 28)]
    )
    next_at = models.DateTimeField(_("next post"), null=True, blank=True)
    last_posted_at = models.DateTimeField(_("last posted"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        indexes = [models.Index(fields=["active", "next_at"], name="announcement_due")]

    def __str__(self) -> str:
        return self.text[:40]


class StrikeAction(models.TextChoices):
    DELETE = "delete", _("Message deleted")
    WARN = "warn", _("Warned")
    STRIKE = "strike", _("Strike counted")
    REMOVE = "remove", _("Removed")
    BAR = "bar", _("Barred")


class Strike(models.Model):
    """Projection of group.strike_added / group.strike_undone: the moderation log. Rebuildable.

    Every rule match is a row; `counts` is False when the rule does not count strikes, and an undone
    strike (undone_at set) no longer counts towards removal.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", verbose_name=_("group"), db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="strikes", verbose_name=_("member"), db_index=False)
    source_id = models.CharField(max_length=191)
    rule_id = models.PositiveIntegerField(null=True, blank=True)  # the rule may be deleted later: no foreign key
    rule_name = models.CharField(_("rule"), max_length=64)
    number = models.PositiveSmallIntegerField(_("strike"))
    limit = models.PositiveSmallIntegerField(_("limit"))
    counts = models.BooleanField(default=True)
    actions = models.JSONField(_("actions"), default=list)
    message_id = models.CharField(max_length=191, blank=True)
    excerpt = models.CharField(_("excerpt"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("when"))
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.CharField(_("undone by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("strike")
        verbose_name_plural = _("strikes")
        constraints = [models.UniqueConstraint(fields=["workspace", "source_id"], name="strike_unique_source")]
        indexes = [
            models.Index(fields=["group", "member", "occurred_at"], name="strike_member_window"),
            models.Index(fields=["workspace", "occurred_at"], name="strike_log"),
        ]

    def action_labels(self) -> list[str]:
        labels = dict(StrikeAction.choices)
        return [labels.get(a, a) for a in self.actions]


class WelcomeBatch(models.Model):
    """The welcome a group has queued: newcomers are added to it until a worker takes the message."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("core.OutboxMessage", null=True, on_delete=models.SET_NULL, related_name="+")
    newcomers = models.JSONField(default=list)  # [{"id": external id, "name": ..., "number": member number}]
    started_at = models.DateTimeField(null=True)


class ReplyCooldown(models.Model):
    """When a keyword reply may next be sent in a group; claimed with a conditional update."""

    rule = models.ForeignKey(KeywordReply, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", db_index=False)
    until = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "group"], name="replycooldown_unique")]
