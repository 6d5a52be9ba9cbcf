"""Member export: a segment's or every member, CSV with BOM or XLSX, contacts masked unless asked, audited."""
import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from siyu.core.models import AuditEntry, Role
from siyu.core.spreadsheets import DATETIME_FORMAT, MAX_WIDTH
from siyu.members.exports import members_export
from siyu.members.models import Member, MemberStats, Segment, SegmentMember
from siyu.members.projections import member_numbers_allocate
from siyu.members.tags import tag_create, tags_apply


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def members(workspace):
    numbers = member_numbers_allocate(workspace=workspace, count=3)
    rows = [Member.objects.create(workspace=workspace, number=n, display_name=name, city="北京", phone=phone)
            for n, name, phone in zip(numbers, ["王小明", "李华", "张三"], ["13800138000", "13900139000", ""])]
    tag = tag_create(workspace=workspace, name="高意向")
    tags_apply(workspace=workspace, pairs=[(rows[0].pk, tag.pk)], via="manual")
    segment = Segment.objects.create(workspace=workspace, name="北京高意向", filter={})
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m, since=timezone.now()) for m in rows[:2]])
    return rows, segment


def test_a_segment_exports_as_csv_with_a_bom_and_masked_phones(workspace, members):
    _rows, segment = members
    out = io.BytesIO()
    assert members_export(workspace=workspace, out=out, fmt="csv", segment=segment) == 2
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:6] == ["Member number", "Name", "Gender", "City", "Remark", "Phone"]
    assert [r[1] for r in table[1:]] == ["王小明", "李华"]
    assert table[1][5] == "138****8000" and table[1][8] == "高意向"
    audit = AuditEntry.objects.get(action="export")
    assert audit.subject == f"segment:{segment.pk}" and audit.data["with_contacts"] is False and audit.data["rows"] == 2


def test_all_members_as_xlsx_with_contacts_is_audited(workspace, members, tmp_path):
    path = tmp_path / "all.xlsx"
    with open(path, "wb") as out:
        members_export(workspace=workspace, out=out, fmt="xlsx", with_contacts=True)
    sheet = load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 4 and values[1][5] == "13800138000"
    assert AuditEntry.objects.get(action="export").data["with_contacts"] is True


def test_the_cli_exports_a_segment(workspace, members, tmp_path):
    _rows, segment = members
    path = tmp_path / "seg.csv"
    call_command("members", "export", "--workspace", workspace.slug, "--segment", str(segment.pk), "--output", str(path),
                 verbosity=0)
    assert path.read_text(encoding="utf-8-sig").count("\n") == 3


def test_the_console_export_needs_an_operator_and_contacts_need_an_admin(client, workspace, members, make_staff):
    _rows, segment = members
    url = f"/w/{workspace.slug}/members/export/?segment={segment.pk}&format=csv"
    client.force_login(make_staff(workspace, role=Role.VIEWER))
    assert client.get(url).status_code == 403
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    response = client.get(url)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response.status_code == 200 and "李华" in body and "139****9000" in body
    assert client.get(url + "&with_contacts=1").status_code == 403
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    response = client.get(f"/w/{workspace.slug}/members/export/?format=xlsx&with_contacts=1")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")


@pytest.fixture
def seen(make_workspace):
    """A workspace in New York (not the server's zone) with one member seen at 12:00 UTC on 1 March, a long remark."""
    workspace = make_workspace(time_zone="America/New_York")
    number, = member_numbers_allocate(workspace=workspace, count=1)
    member = Member.objects.create(workspace=workspace, number=number, display_name="王小明", remark="很长的备注" * 40)
    MemberStats.objects.create(member=member, workspace=workspace, first_seen_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                               last_seen_at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC), messages=3)
    return workspace


def test_the_xlsx_has_real_dates_in_the_workspaces_zone_widths_and_a_frozen_header(seen, tmp_path):
    path = tmp_path / "members.xlsx"
    with open(path, "wb") as out:
        members_export(workspace=seen, out=out, fmt="xlsx")
    sheet = load_workbook(path).active
    headers = [c.value for c in sheet[1]]
    first, last = sheet.cell(2, headers.index("First seen") + 1), sheet.cell(2, headers.index("Last seen") + 1)
    assert first.value == datetime(2026, 3, 1, 7, 0) and last.value == datetime(2026, 3, 2, 18, 30)
    assert first.is_date and first.number_format == DATETIME_FORMAT
    assert sheet.freeze_panes == "A2"
    widths = {letter: dimension.width for letter, dimension in sheet.column_dimensions.items()}
    assert len(widths) == len(headers)
    remark = get_column_letter(headers.index("Remark") + 1)
    name = get_column_letter(headers.index("Name") + 1)
    assert widths[remark] == MAX_WIDTH  # 200 CJK characters: capped
    assert widths[get_column_letter(headers.index("First seen") + 1)] >= len("2026-03-01 07:00")
    assert len("王小明") * 2 <= widths[name] < MAX_WIDTH


def test_the_csv_has_local_iso_like_moments(seen):
    out = io.BytesIO()
    members_export(workspace=seen, out=out, fmt="csv")
    table = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    row = dict(zip(table[0], table[1]))
    assert row["First seen"] == "2026-03-01 07:00" and row["Last seen"] == "2026-03-02 18:30"


def test_one_label_per_column_in_the_csv_the_xlsx_and_the_console_table(client, seen, make_staff, tmp_path):
    with translation.override("zh-hans"):
        out = io.BytesIO()
        members_export(workspace=seen, out=out, fmt="csv")
        csv_headers = next(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
        path = tmp_path / "members.xlsx"
        with open(path, "wb") as file:
            members_export(workspace=seen, out=file, fmt="xlsx")
        xlsx_headers = [c.value for c in load_workbook(path).active[1]]
    assert csv_headers == xlsx_headers and "跟进人" in csv_headers and "所有者" not in csv_headers
    client.force_login(make_staff(seen, role=Role.OPERATOR))
    page = client.get(f"/w/{seen.slug}/members/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    table_headers = re.findall(r"<th[^>]*>([^<]+)</th>", page)
    assert table_headers and set(table_headers) <= set(csv_headers) and "跟进人" in table_headers
