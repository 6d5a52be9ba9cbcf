"""Member export: a segment's or every member, CSV with BOM or XLSX, contacts masked unless asked, audited."""
import csv
import io

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from openpyxl import load_workbook

from siyu.core.models import AuditEntry, Role
from siyu.members.exports import members_export
from siyu.members.models import Member, Segment, SegmentMember
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
