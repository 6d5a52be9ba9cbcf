from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.core.fields import EncryptedTextField
from siyu.core.models import Workspace

USER = settings.AUTH_USER_MODEL


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")


class StaffVia(models.TextChoices):
    """Why a member is marked as staff (or, by an operator, as not staff)."""

    NONE = "", _("Not marked")
    BOT = "bot", _("The bot's own account")
    GROUP_ROLE = "group_role", _("Group owner or admin")
    OPERATOR = "operator", _("Marked by an operator")


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
    # Where the member came from (来源 / 渠道): a members.sources key ("douyin") or the text an import gave.
    # A database default too: ingest's resolver inserts members without naming this column.
    source = models.CharField(_("source"), max_length=64, blank=True, default="", db_default="")
    profile = models.JSONField(_("profile"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Projection of member.barred / member.unbarred: a barred member cannot enroll in new campaigns.
    barred_at = models.DateTimeField(_("barred at"), null=True, blank=True, editable=False)
    barred_reason = models.CharField(_("reason barred"), max_length=200, blank=True, editable=False)
    # Contact fields: encrypted at rest, shown masked to roles without the right to see them
    # (members.privacy). `phone_digest` is a keyed hash of the normalised phone, for finding by phone.
    phone = EncryptedTextField(_("phone"), blank=True)
    phone_digest = models.CharField(max_length=64, blank=True, editable=False)
    email = EncryptedTextField(_("e-mail"), blank=True)
    wechat = EncryptedTextField(_("WeChat ID"), blank=True)
    # The staff member who owns the relationship (跟进人); changed by member.owner_changed events.
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_members", verbose_name=_("owner")
    )
    # Merged into another member (members.merge): hidden from lists, kept so the merge can be undone.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_members", editable=False
    )
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    # Staff (员工: the bot, a group's owner or admin, or marked on the member page) are no members for the
    # figures: member lists, segments, tag rules, lead lists, tiers and group figures leave them out unless
    # asked ({"staff": true}). `staff_via` says why; "operator" (either way) is never changed by a sync.
    # Database defaults: ingest's resolver inserts members without naming these columns.
    is_staff = models.BooleanField(_("staff"), default=False, db_default=False, editable=False)
    staff_via = models.CharField(
        _("staff because"), max_length=16, choices=StaffVia.choices, blank=True, default="", db_default="", editable=False
    )

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["workspace", "number"], name="member_unique_number")]
        indexes = [
            models.Index(fields=["workspace", "phone_digest"], name="member_phone", condition=~Q(phone_digest="")),
            models.Index(fields=["owner"], name="member_owner", condition=Q(owner__isnull=False)),
            # Few rows: the staff of a workspace, which figures subtract.
            models.Index(fields=["workspace"], name="member_staff", condition=Q(is_staff=True)),
        ]

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



class MemberDay(models.Model):
    """Projection: a member's activity on one day (workspace time zone), all groups together: what
    segments' time windows ("≥ 3 messages in the last 7 days", "spend ≥ 100 in 90 days") sum over."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    messages = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    spend_cents = models.BigIntegerField(default=0)  # paid minus refunded that day
    clicks = models.PositiveIntegerField(default=0)  # link and channel code visits (people, not bots)

    class Meta:
        # Day first: "the last N days" is one index range (see MemberDailyActivity).
        constraints = [models.UniqueConstraint(fields=["day", "member"], name="memberday_totals_unique")]
        indexes = [
            # A live update reads a few members' days: (member, day).
            models.Index(fields=["member", "day"], name="memberday_member"),
            # A full build sums one measure over a window for everybody: one covering range per measure,
            # holding only the days the measure is not 0 (a day with 0 adds nothing to a sum).
            *(
                models.Index(fields=["workspace", "day", "member", measure], condition=~Q(**{measure: 0}),
                             name=f"memberday_{measure}"[:30])
                for measure in ("messages", "orders", "spend_cents", "clicks")
            ),
        ]

# -- tags (标签) -----------------------------------------------------------------------------------
class TagChoice(models.TextChoices):
    SINGLE = "single", _("One tag of the group at a time")
    MULTI = "multi", _("Any number of tags of the group")


class TagGroup(models.Model):
    """A family of tags, e.g. 风格偏好 (multi) or 消费能力 (single: tagging one removes the others)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tag_groups", db_index=False)
    name = models.CharField(_("name"), max_length=64)
    choice = models.CharField(_("choice"), max_length=8, choices=TagChoice.choices, default=TagChoice.MULTI)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="taggroup_unique_name")]

    def __str__(self):
        return self.name


class Tag(models.Model):
    """A label. Deleting keeps the row (`deleted_at`): history and segments that named it stay explainable."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags", db_index=False)
    group = models.ForeignKey(TagGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="tags",
                              verbose_name=_("tag group"))
    name = models.CharField(_("name"), max_length=64)
    color = models.CharField(_("colour"), max_length=7, default="#475467")
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["group__position", "group_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "group", "name"], condition=Q(deleted_at__isnull=True), name="tag_unique_live_name"
            ),
        ]

    def __str__(self):
        return f"{self.group.name}:{self.name}" if self.group_id and self.group is not None else self.name


class TagVia(models.TextChoices):
    MANUAL = "manual", _("By hand")
    IMPORT = "import", _("Import")
    RULE = "rule", _("Tag rule")
    QUESTIONNAIRE = "questionnaire", _("Questionnaire answer")
    MERGE = "merge", _("Merge")


class MemberTag(models.Model):
    """Projection of member.tagged / member.untagged: the tags a member has now, and who or what gave them.
    The ledger keeps the history (a tag removed and given again is two events, nothing lost)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="member_tags", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="member_tags", db_index=False)
    via = models.CharField(max_length=16, choices=TagVia.choices, default=TagVia.MANUAL)
    rule = models.ForeignKey("TagRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="membertag_unique")]
        indexes = [models.Index(fields=["tag", "member"], name="membertag_by_tag")]


class TagRule(models.Model):
    """Members matching `filter` (a segment filter tree, see members.filters) get `tag`; with
    `untag_when_unmatched`, members who stop matching lose it again (only if this rule gave it)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tag_rules", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules", verbose_name=_("tag"))
    name = models.CharField(_("name"), max_length=100)
    filter = models.JSONField(_("condition"), default=dict)
    untag_when_unmatched = models.BooleanField(_("remove the tag when the condition no longer holds"), default=True)
    active = models.BooleanField(_("active"), default=True)
    error = models.CharField(max_length=300, blank=True, editable=False)  # why it is not applied (a deleted tag…)
    built_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    # Not columns: display values the console sets for its templates.
    words: str
    members: int

    class Meta:
        verbose_name = _("tag rule")
        verbose_name_plural = _("tag rules")

    def __str__(self):
        return self.name


# -- segments (分群) -------------------------------------------------------------------------------
class Segment(models.Model):
    """A saved filter with a live member list (SegmentMember), kept current by ingest."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments", db_index=False)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    filter = models.JSONField(_("filter"), default=dict)
    size = models.PositiveIntegerField(_("members"), default=0, editable=False)
    built_at = models.DateTimeField(_("last full build"), null=True, blank=True, editable=False)
    build_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    error = models.CharField(max_length=300, blank=True, editable=False)  # why the list is not kept (a deleted tag…)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Not columns: display values the console sets for its templates.
    words: str

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], condition=Q(archived_at__isnull=True), name="segment_unique_live_name"),
        ]

    def __str__(self):
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    since = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "member"], name="segmentmember_unique")]
        indexes = [models.Index(fields=["member"], name="segmentmember_member")]


class SegmentSize(models.Model):
    """A segment's size at the end of each day it changed (and at each full build): its size history."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes", db_index=False)
    day = models.DateField()
    size = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="segmentsize_unique")]


# -- notes and service records (备注, 服务记录) --------------------------------------------------------
class NoteKind(models.TextChoices):
    NOTE = "note", _("Note")
    CALL = "call", _("Call")
    PRIVATE_CHAT = "private_chat", _("Private chat")
    VISIT = "visit", _("Visit")
    AFTER_SALES = "after_sales", _("After-sales")
    FOLLOW_UP = "follow_up", _("Lead follow-up")


class Note(models.Model):
    """What a staff member did with or learned about a member; shown on the member's timeline."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notes", db_index=False)
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by"))
    kind = models.CharField(_("kind"), max_length=16, choices=NoteKind.choices, default=NoteKind.NOTE)
    text = models.TextField(_("text"), max_length=4000)
    occurred_at = models.DateTimeField(_("when"))
    lead = models.ForeignKey("Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups")
    created_at = models.DateTimeField(auto_now_add=True)

    # Not columns: set by members.notes.notes_for_timeline for the timeline template.
    is_note: bool
    icon: str

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        indexes = [models.Index(fields=["member", "occurred_at"], name="note_member_time")]


# -- staff handover (离职继承, 在职继承) ----------------------------------------------------------
class HandoverKind(models.TextChoices):
    LEAVING = "leaving", _("Leaving colleague")
    ACTIVE = "active", _("Between active colleagues")


class Handover(models.Model):
    """One audited move of members (all or a filtered set), their open leads and group duties from one staff
    member to another."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    from_user = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("from"))
    to_user = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("to"))
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by"))
    filter = models.JSONField(default=dict, blank=True)  # {} = all their members
    kind = models.CharField(_("kind"), max_length=16, choices=HandoverKind.choices, default=HandoverKind.LEAVING)
    members = models.PositiveIntegerField(default=0)
    groups = models.PositiveIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0)  # open leads that moved with the members
    told = models.PositiveIntegerField(default=0)  # members sent a message through the outbox
    message = models.TextField(_("message to the members"), blank=True)
    # The form's one-time key: a double submit finds the first handover instead of making a second.
    key = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], condition=~Q(key=""),
                                               name="handover_unique_key")]


# -- merge -----------------------------------------------------------------------------------------
class MemberMerge(models.Model):
    """`merged` was folded into `kept`. `moved` records every row that changed, so undo restores them exactly."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kept = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    merged = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")


# -- lead lists (线索) -------------------------------------------------------------------------------
class Assignment(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    BY_LOAD = "by_load", _("Fewest open leads first")


class LeadList(models.Model):
    """A segment's members scored (members.leads: weighted sum of behaviours and fields), sorted, handed to sales."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="lead_lists", db_index=False)
    name = models.CharField(_("name"), max_length=100)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="lead_lists", verbose_name=_("segment"))
    weights = models.JSONField(_("score weights"), default=dict)
    assignment = models.CharField(_("assignment"), max_length=16, choices=Assignment.choices, default=Assignment.ROUND_ROBIN)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("sales staff"))
    limit = models.PositiveIntegerField(_("top N members"), null=True, blank=True)
    built_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("lead list")
        verbose_name_plural = _("lead lists")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Lead(models.Model):
    lead_list = models.ForeignKey(LeadList, on_delete=models.CASCADE, related_name="leads")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"))
    reasons = models.JSONField(default=list)  # [[label, value, weight, points], ...]
    assigned_to = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    status = models.CharField(_("status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Added by hand (a bulk action on the members list), not by the segment: a rebuild keeps it.
    manual = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lead_list", "member"], name="lead_unique_member")]
        indexes = [models.Index(fields=["assigned_to", "status"], name="lead_assignee")]


# -- bulk actions on the members list (批量操作) -------------------------------------------------------
class BulkKind(models.TextChoices):
    TAG = "tag", _("Add tags")
    UNTAG = "untag", _("Remove tags")
    OWNER = "owner", _("Set owner")
    LEAD_LIST = "lead_list", _("Add to a lead list")
    EXPORT = "export", _("Export")


class BulkAction(models.Model):
    """One bulk action on selected members (members.bulk): what was selected, what it did, and for a tag
    change the exact (member, tag) pairs it changed, so an undo restores those and no others."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(_("action"), max_length=16, choices=BulkKind.choices)
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by"))
    # The form's one-time key: a double submit finds the first action instead of making a second.
    key = models.CharField(max_length=64, blank=True)
    selection = models.JSONField(default=dict)  # {"numbers": [...]} or {"filter": "q=…&tag=3", "all": true}
    selected = models.PositiveIntegerField(_("members selected"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    detail = models.JSONField(default=dict)  # tags, owner, lead list or format
    # What it changed: {"given": [[member, tag]…], "taken": […]} for tags, lead ids, or the member ids exported.
    changes = models.JSONField(default=dict)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], condition=~Q(key=""),
                                               name="bulk_action_unique_key")]
        indexes = [models.Index(fields=["workspace", "at"], name="bulk_action_workspace_at")]


# -- import (导入) ----------------------------------------------------------------------------------
class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", pgettext_lazy("import status", "Uploaded")
    CHECKED = "checked", _("Checked")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class MemberImport(models.Model):
    """One uploaded file of members: mapping, dry-run report, all-or-nothing commit (members.imports)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500)  # the stored upload under SIYU_VAR_DIR
    encoding = models.CharField(max_length=32, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # {column header: field}
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)  # progress
    bad_rows = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)  # [{"line": n, "column": c, "reason": r}, ...] (first 1,000)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
