"""Privacy: contact fields (phone, e-mail, WeChat ID), who sees them, a person's data export and erasure.

    member_contacts_set(member=m, phone="+86 138-1234-5678", by=user)
    contacts_for(m, staff_role)            # {"phone": "138****5678", ...} or plain for owners/admins
    contact_reveal(member=m, staff_role=r) # plain values, audited ("contact_revealed")
    member_data_export(member=m, by=user)  # one JSON file (bytes), audited ("member_exported")
    member_erase(member=m, by=user, reason="…")  # audited ("member_erased")

Contacts are encrypted at rest (core.fields.EncryptedTextField); `phone_digest` (a keyed hash of the
normalised phone) finds members by phone and same-phone merge candidates.

Who sees contacts: owners and admins see them plain. Operators, sales and viewers see them masked
(138****5678, a***@x.com, w***d). Operators and above may *edit* contacts (they collect them), but
not read them back plain: a leaked operator account then leaks no phone book.
"""
import json
import re
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.events import EventType
from siyu.core.fields import contact_digest, contact_digests
from siyu.core.models import AuditEntry, Event, OutboxMessage, StaffRole, Workspace
from siyu.core.roles import ADMINS, OPERATORS, role_allows, role_check

from .models import Gender, Identity, Lead, Member, MemberTag, Note, SegmentMember
from .personal import Erasure, personal_data

PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
EXCEL_SHORTENED = re.compile(r"\d(\.\d+)?[eE]\+\d+")
WECHAT_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

# Keys of Event.data that carry what a person wrote or who they are (see core.ingest and the channel
# adapters): a message's text, a profile's name, city and gender, a leave's reason. Other apps add
# theirs (members.personal: a strike's excerpt, a click's browser, address and referring page).
PERSONAL_DATA_KEYS = frozenset({
    "text", "name", "display_name", "city", "gender", "reason", "phone", "email", "wechat",
})
# member.barred's "reason" is the rule's, not the person's: kept so the bar still explains itself.
KEEP_KEYS_BY_TYPE = {int(EventType.MEMBER_BARRED): frozenset({"reason"})}


# -- contacts ----------------------------------------------------------------------------------------
def phone_normalise(text: str | None) -> str:
    """A Chinese mobile number as 11 digits ("13812345678"), or ValidationError saying what is wrong.

    Spaces, dashes, dots and brackets are ignored, as is a +86 / 0086 / 86 country prefix. A number a
    spreadsheet wrote in scientific notation (1.38E+10, as Excel does) has lost its digits: refused as such.
    """
    raw = str(text or "").strip()
    if EXCEL_SHORTENED.fullmatch(raw):
        raise ValidationError(_("“%(value)s” is a number Excel shortened: format the column as text and export again.")
                              % {"value": raw})
    value = PHONE_SEPARATORS.sub("", raw)
    if not value:
        raise ValidationError(_("Enter a phone number."))
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if not value.isdigit():
        raise ValidationError(_("A phone number has only digits (and optionally +86): “%(value)s”.") % {"value": text})
    if len(value) != 11:
        raise ValidationError(
            _("A mobile number has 11 digits; “%(value)s” has %(n)s.") % {"value": text, "n": len(value)}
        )
    if not PHONE_PATTERN.match(value):
        raise ValidationError(_("A mobile number starts with 13 to 19: “%(value)s”.") % {"value": text})
    return value


def phone_mask(phone: str) -> str:
    """138****5678: the operator can tell two numbers apart without reading them."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def _word_mask(word):
    if len(word) <= 1:
        return "*" * len(word)
    if len(word) == 2:
        return f"{word[0]}*"
    return f"{word[0]}***{word[-1]}"


def email_mask(email: str) -> str:
    """a***@x.com: the first letter of the name, the whole domain."""
    if not email:
        return ""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else _word_mask(email)


def wechat_mask(wechat: str | None) -> str:
    """w***d: the first and last character."""
    return _word_mask(wechat or "")


def can_see_contacts(staff_role: StaffRole | None) -> bool:
    """Owners and admins see contacts plain; operators, sales and viewers see them masked."""
    return role_allows(staff_role, ADMINS)


def can_edit_contacts(staff_role: StaffRole | None) -> bool:
    """Owners, admins and operators may set contacts (operators collect them, they do not read them back)."""
    return role_allows(staff_role, OPERATORS)


def email_normalise(text: str | None) -> str:
    value = (text or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(_("“%(value)s” is not an e-mail address.") % {"value": text}) from None
    return value


def wechat_normalise(text: str | None) -> str:
    value = (text or "").strip()
    if not WECHAT_PATTERN.match(value):
        raise ValidationError(
            _("A WeChat ID has at most 64 letters, digits, - or _: “%(value)s”.") % {"value": text}
        )
    return value


def member_contacts_set(
    *, member: Member, phone: str | None = None, email: str | None = None, wechat: str | None = None,
    by: User | None = None,
) -> Member:
    """Set the member's contacts; None leaves a field as it is, "" clears it.

    Validates everything before writing, then saves the encrypted fields and the phone digest in one
    save. Raises ValidationError({field: [reason]}) naming each bad value.
    """
    values, errors = {}, {}
    for field, value, clean in (("phone", phone, phone_normalise), ("email", email, email_normalise),
                                ("wechat", wechat, wechat_normalise)):
        if value is None:
            continue
        if not str(value).strip():
            values[field] = ""
            continue
        try:
            values[field] = clean(value)
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    if not values:
        return member
    if "phone" in values:
        values["phone_digest"] = contact_digest(values["phone"])
    for field, value in values.items():
        setattr(member, field, value)
    with transaction.atomic():
        member.save(update_fields=list(values))
        AuditEntry.objects.create(
            workspace_id=member.workspace_id, user=by, action="contacts_changed", subject=f"member:{member.number}",
            data={"fields": sorted(k for k in values if k != "phone_digest")},
        )
    return member


def member_find_by_phone(*, workspace: Workspace, phone: str) -> "QuerySet[Member]":
    """Members of the workspace with this phone (any written form), via the digest."""
    return Member.objects.filter(workspace=workspace, phone_digest__in=contact_digests(phone_normalise(phone)))


def contacts_for(member: Member, staff_role: StaffRole | None) -> dict[str, Any]:
    """The member's contacts as this role may see them: {"phone", "email", "wechat", "masked"}."""
    if can_see_contacts(staff_role):
        return {"phone": member.phone, "email": member.email, "wechat": member.wechat, "masked": False}
    return {
        "phone": phone_mask(member.phone), "email": email_mask(member.email), "wechat": wechat_mask(member.wechat),
        "masked": True,
    }


def contact_reveal(*, member: Member, staff_role: StaffRole) -> dict[str, Any]:
    """The plain contacts, for an explicit "reveal" by an owner or admin; audited ("contact_revealed").

    Raises RoleRequired (a PermissionDenied) for other roles (nothing is written then).
    """
    role_check(staff_role=staff_role, roles=ADMINS, message=_("Only owners and admins can see contact details."))
    AuditEntry.objects.create(
        workspace_id=member.workspace_id, user=staff_role.user, action="contact_revealed",
        subject=f"member:{member.number}", data={"member": member.number},
    )
    return {"phone": member.phone, "email": member.email, "wechat": member.wechat, "masked": False}


# -- export ------------------------------------------------------------------------------------------
def member_data_export(*, member: Member, by: User | None = None) -> bytes:
    """Everything Siyu holds about the person, as one UTF-8 JSON document (bytes); audited ("member_exported").

    Profile, plain contacts, identities, tags, notes, segments, leads, what other apps hold about the
    person (members.personal: group stays, strikes…) and every ledger event with its data. Reads only
    (plus the audit row).
    """
    data: dict[str, Any] = {
        "exported_at": timezone.now(),
        "workspace": member.workspace.slug,
        "member": {
            "number": member.number, "display_name": member.display_name, "gender": member.gender,
            "city": member.city, "remark": member.remark, "profile": member.profile, "created_at": member.created_at,
            "owner": member.owner.get_username() if member.owner_id and member.owner is not None else None,
            "barred_at": member.barred_at, "barred_reason": member.barred_reason,
            "merged_into": member.merged_into.number if member.merged_into_id and member.merged_into is not None else None,
            "erased_at": member.erased_at,
        },
        "contacts": {"phone": member.phone, "email": member.email, "wechat": member.wechat},
        "identities": list(
            Identity.objects.filter(member=member).order_by("pk").values("channel", "external_id", "display_name", "created_at")
        ),
        "tags": [
            {"tag": str(mt.tag), "via": mt.via, "added_at": mt.added_at}
            for mt in MemberTag.objects.filter(member=member).select_related("tag__group").order_by("added_at", "pk")
        ],
        "notes": [
            {"kind": n.kind, "text": n.text, "occurred_at": n.occurred_at,
             "by": n.author.get_username() if n.author_id and n.author is not None else None}
            for n in Note.objects.filter(member=member).select_related("author").order_by("occurred_at", "pk")
        ],
        "segments": [
            {"segment": name, "since": since}
            for name, since in SegmentMember.objects.filter(member=member)
            .order_by("since").values_list("segment__name", "since")
        ],
        "leads": [
            {"lead_list": lead.lead_list.name, "score": lead.score, "reasons": lead.reasons, "status": lead.status,
             "assigned_to": lead.assigned_to.get_username() if lead.assigned_to_id and lead.assigned_to is not None else None}
            for lead in Lead.objects.filter(member=member).select_related("lead_list", "assigned_to").order_by("pk")
        ],
    }
    for entry in personal_data():
        for section, rows in entry.export.items():
            data[section] = rows(member)
    data["events"] = [
            {"id": pk, "type": EventType(kind).key, "occurred_at": at, "source": source, "source_id": source_id,
             "group_id": group_id, "data": payload}
            for pk, kind, at, source, source_id, group_id, payload in Event.objects.filter(member=member)
            .order_by("occurred_at", "id").values_list("id", "type", "occurred_at", "source", "source_id", "group_id", "data")
            .iterator(chunk_size=2000)
    ]
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1).encode()
    AuditEntry.objects.create(
        workspace_id=member.workspace_id, user=by, action="member_exported", subject=f"member:{member.number}",
        data={"member": member.number, "events": len(data["events"]), "bytes": len(body)},
    )
    return body


# -- erase -------------------------------------------------------------------------------------------
def _personal_keys():
    return PERSONAL_DATA_KEYS.union(*(entry.event_keys for entry in personal_data()))


def _scrub(data, personal, keep=frozenset()):
    return {k: v for k, v in data.items() if k not in personal or k in keep}


def _replace_ids(value, ids, replacement):
    for external_id in ids:
        if external_id and external_id in value:
            value = value.replace(external_id, replacement)
    return value


def member_erase(*, member: Member, by: User | None = None, reason: str = "") -> Member:
    """Erase a person: identities deleted, personal fields cleared, events kept without personal data.

    In one transaction: identities deleted (a later event from the same external id creates a new
    member: this one cannot be found again); display name → "已删除 #<number>"; contacts, digest,
    remark, city, gender and profile cleared; notes' text deleted; in the member's events the personal
    keys of `data` (PERSONAL_DATA_KEYS and those other apps register) are removed and source ids that
    embed the person's external id are rewritten; where other rows name the person by external id (a
    queued message's mention) the id and name are replaced; every app registered in members.personal
    erases what it holds (strikes' excerpts, invites, queued welcomes…). Members merged into this
    one are erased with it. Audited ("member_erased") with the number and reason only.
    Refuses (ValidationError) a member already erased or merged into another.
    """
    if member.erased_at is not None:
        raise ValidationError(_("Member #%(number)s is already erased.") % {"number": member.number})
    if member.merged_into_id is not None:
        raise ValidationError(
            _("Member #%(number)s was merged into #%(kept)s: erase #%(kept)s instead.")
            % {"number": member.number, "kept": member.merged_into.number if member.merged_into is not None else ""}
        )
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ValidationError(_("At most %(max)s characters.") % {"max": 200})
    now = timezone.now()
    with transaction.atomic():
        erased = _with_merged(member)
        for person in erased:
            _erase_one(person, now)
        AuditEntry.objects.create(
            workspace_id=member.workspace_id, user=by, action="member_erased", subject=f"member:{member.number}",
            data={"member": member.number, "reason": reason, "also": [p.number for p in erased if p.pk != member.pk]},
        )
    member.refresh_from_db()
    return member


def _with_merged(member):
    found, frontier = [member], [member.pk]
    while frontier:
        more = list(Member.objects.filter(merged_into_id__in=frontier, erased_at__isnull=True))
        found += more
        frontier = [m.pk for m in more]
    return found


def _erase_one(member, now):
    names = {member.display_name} | set(member.identities.exclude(display_name="").values_list("display_name", flat=True))
    identities = list(member.identities.values_list("channel", "external_id"))
    external_ids = {external_id for _channel, external_id in identities}
    erasure = Erasure(member=member, identities=tuple(identities), external_ids=frozenset(external_ids))
    replacement = erasure.replacement_id
    member.identities.all().delete()
    Member.objects.filter(pk=member.pk).update(
        display_name=erasure.replacement_name, phone="", email="", wechat="", phone_digest="",
        remark="", city="", gender=Gender.UNKNOWN, profile={}, erased_at=now,
    )
    Note.objects.filter(member=member).update(text="")
    personal = _personal_keys()
    for pk, kind, source_id, data in Event.objects.filter(member=member).values_list("pk", "type", "source_id", "data").iterator(chunk_size=2000):
        clean = _scrub(data or {}, personal, KEEP_KEYS_BY_TYPE.get(kind, frozenset()))
        new_source_id = _replace_ids(source_id, external_ids, replacement)
        if clean != data or new_source_id != source_id:
            Event.objects.filter(pk=pk).update(data=clean, source_id=new_source_id)
    if external_ids:
        _erase_references(member.workspace_id, identities, replacement)
    for entry in personal_data():
        if entry.erase is not None:
            entry.erase(erasure)
    erased_name = erasure.replacement_name
    for message in OutboxMessage.objects.filter(workspace_id=member.workspace_id).only("pk", "payload"):
        payload = message.payload or {}
        mentions = payload.get("mentions") or []
        if not any(isinstance(p, dict) and p.get("id") in external_ids for p in mentions):
            continue
        text = payload.get("text", "")
        for name in names:
            if name and isinstance(text, str):
                text = text.replace(name, erased_name)
        payload = {**payload, "text": text, "mentions": [erasure.person_scrub(p) for p in mentions]}
        OutboxMessage.objects.filter(pk=message.pk).update(payload=payload)


def _erase_references(workspace_id, identities, replacement):
    """Other people's events that name the person by external id (the inviter of a join, who kicked)."""
    for channel, external_id in identities:
        for key in ("inviter", "by"):
            rows = Event.objects.filter(workspace_id=workspace_id, source=channel, **{f"data__{key}": external_id})
            for pk, data in rows.values_list("pk", "data"):
                Event.objects.filter(pk=pk).update(data={**data, key: replacement})
