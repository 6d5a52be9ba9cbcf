"""Member export: every member, or a segment's live list, as CSV (UTF-8 with BOM, so Excel reads the
Chinese right) or XLSX (openpyxl write-only), streamed CHUNK members at a time so memory stays bounded,
both written by siyu.core.spreadsheets (cells that would run as formulas are defused).

    with open("members.csv", "wb") as out:
        members_export(workspace=w, out=out, fmt="csv", segment=seg, by=user)

Contacts (phone, e-mail, WeChat ID) are masked (138****5678) unless `with_contacts`; every export is
audited (AuditEntry action "export", with "with_contacts" in its data). Columns of other apps' facts
(groups: "Groups now") are registered with `export_column_register` in their AppConfig.ready() and
come after "Owner". Each column has one label (MEMBER_COLUMNS, `member_column_labels`), the same in the CSV,
the XLSX and the console's members table; first and last seen are moments (local time in the workspace's
time zone: date cells in XLSX).
"""
import codecs
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from siyu.core.models import AuditEntry, Workspace
from siyu.core.spreadsheets import csv_stream, xlsx_write

from .models import Member, MemberStats, MemberTag, Segment, SegmentMember
from .privacy import email_mask, phone_mask, wechat_mask
from .sources import source_label

CHUNK = 2000
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class ExportColumn:
    """A column another app adds to the member export: its title and its cells for a chunk of members."""

    key: str
    title: Callable[[], str]  # called when the export runs, in the active language
    cells: Callable[[list], dict]  # member ids → {member id: cell text}; members without a cell get ""


EXPORT_COLUMNS: dict[str, ExportColumn] = {}

# The members' own columns, in export order; other apps' columns come after "owner".
MEMBER_COLUMNS = {
    "number": pgettext_lazy("member column", "Member number"), "name": pgettext_lazy("member column", "Name"),
    "gender": pgettext_lazy("member column", "Gender"), "city": pgettext_lazy("member column", "City"),
    "remark": pgettext_lazy("member column", "Remark"), "phone": pgettext_lazy("member column", "Phone"),
    "email": pgettext_lazy("member column", "E-mail"), "wechat": pgettext_lazy("member column", "WeChat ID"),
    "tags": pgettext_lazy("member column", "Tags"), "source": pgettext_lazy("member column", "Source"),
    "owner": pgettext_lazy("member column", "Owner"),
    "first_seen": pgettext_lazy("member column", "First seen"), "last_seen": pgettext_lazy("member column", "Last seen"),
    "messages": pgettext_lazy("member column", "Messages"), "orders": pgettext_lazy("member column", "Orders"),
    "spend": pgettext_lazy("member column", "Spend (¥)"),
}


def export_column_register(column: "ExportColumn") -> "ExportColumn":
    """Add a column after "Owner" (from an app's AppConfig.ready()); columns keep their registration order."""
    EXPORT_COLUMNS[column.key] = column
    return column


def member_column_labels() -> dict[str, str]:
    """Every column's label in the active language, by key, in export order (registered columns after "owner")."""
    labels: dict[str, str] = {}
    for key, label in MEMBER_COLUMNS.items():
        labels[key] = str(label)
        if key == "owner":
            labels.update((column.key, column.title()) for column in EXPORT_COLUMNS.values())
    return labels


def export_headers() -> list[Any]:
    """Column titles; the same with or without contacts (only the contact cells differ)."""
    return list(member_column_labels().values())


def _member_id_chunks(*, workspace, segment, member_ids=None):
    """Lists of up to CHUNK member ids, in id order, walked by keyset (never the whole list in memory)."""
    rows: "QuerySet[Any, Any]"
    if member_ids is not None:
        ids = sorted(member_ids)
        yield from (ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK))
        return
    if segment is not None:
        rows = SegmentMember.objects.filter(segment=segment)
        column = "member_id"
    else:
        rows = Member.objects.filter(workspace=workspace, merged_into__isnull=True, erased_at__isnull=True)
        column = "pk"
    last = 0
    while True:
        ids = list(rows.filter(**{f"{column}__gt": last}).order_by(column).values_list(column, flat=True)[:CHUNK])
        if not ids:
            return
        yield ids
        last = ids[-1]


def export_rows(
    *, workspace: Workspace, segment: Segment | None = None, with_contacts: bool = False,
    member_ids: Sequence[int] | None = None,
) -> Iterator[list[Any]]:
    """Yield one list of plain values per member (columns as export_headers), CHUNK members per query round;
    first and last seen are aware datetimes (None when unknown). `member_ids` (a bulk selection) instead of
    every member or a segment's."""
    genders = {"m": _("Male"), "f": _("Female"), "": ""}
    for ids in _member_id_chunks(workspace=workspace, segment=segment, member_ids=member_ids):
        members = list(
            Member.objects.filter(pk__in=ids, workspace=workspace).select_related("owner").order_by("number")
        )
        tags = defaultdict(list)
        for member_id, group, name in MemberTag.objects.filter(member_id__in=ids).order_by("tag__name").values_list(
            "member_id", "tag__group__name", "tag__name"
        ):
            tags[member_id].append(f"{group}:{name}" if group else name)
        extra = [column.cells(ids) for column in EXPORT_COLUMNS.values()]
        stats = {s.member_id: s for s in MemberStats.objects.filter(member_id__in=ids)}
        for m in members:
            s = stats.get(m.pk)
            phone, email, wechat = m.phone, m.email, m.wechat
            if not with_contacts:
                phone, email, wechat = phone_mask(phone), email_mask(email), wechat_mask(wechat)
            yield [
                m.number, m.display_name, str(genders.get(m.gender, m.gender)), m.city, m.remark, phone, email, wechat,
                "、".join(tags[m.pk]), source_label(m.source), m.owner.get_username() if m.owner else "", *(cells.get(m.pk, "") for cells in extra),
                s.first_seen_at if s else None, s.last_seen_at if s else None,
                s.messages if s else 0, s.orders if s else 0, round((s.spend_cents if s else 0) / 100, 2),
            ]


def members_export(
    *, workspace: Workspace, out: Any, fmt: str = "csv", segment: Segment | None = None, with_contacts: bool = False,
    by: User | None = None, progress: Callable[[int], object] | None = None,
) -> int:
    """Write the members (all, or the segment's live list) to `out` (a binary file or a path for xlsx)
    and audit it. Returns the number of members written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    count = 0

    def counted(rows):
        nonlocal count
        for row in rows:
            count += 1
            if progress and count % CHUNK == 0:
                progress(count)
            yield row

    rows = counted(export_rows(workspace=workspace, segment=segment, with_contacts=with_contacts))
    headers = export_headers()
    if fmt == "xlsx":
        xlsx_write(out=out, title=segment.name if segment else _("Members"), headers=headers, rows=rows, tz=workspace.tz)
    else:
        writer = codecs.getwriter("utf-8")(out)
        for piece in csv_stream(headers=headers, rows=rows, tz=workspace.tz):
            writer.write(piece)
    export_audit(workspace=workspace, by=by, segment=segment, fmt=fmt, with_contacts=with_contacts, count=count)
    return count


def export_audit(
    *, workspace: Workspace, by: User | None, segment: Segment | None, fmt: str, with_contacts: bool, count: int
) -> AuditEntry:
    """One AuditEntry(action="export") for an export; `with_contacts` says whether contacts left unmasked."""
    return AuditEntry.objects.create(
        workspace=workspace, user=by, action="export", subject=f"segment:{segment.pk}" if segment else "members",
        data={"format": fmt, "rows": count, "with_contacts": bool(with_contacts), "at": timezone.now().isoformat(),
              "segment": segment.name if segment else None},
    )
