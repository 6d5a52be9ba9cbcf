"""Formula injection (issue 14.4): no export carries a cell a spreadsheet program would run, read back from the files."""
import csv
import io
from datetime import datetime

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from siyu.analytics.rollups import rollups_refresh
from siyu.core.models import Role
from siyu.core.spreadsheets import cell_defuse, csv_stream
from siyu.groups.models import Group
from siyu.members.exports import members_export
from tests.conftest import ev

EVIL = '=HYPERLINK("http://evil.example/","click")'
STARTS = [EVIL, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


@pytest.fixture
def hostile(ingest, workspace):
    ingest([{**ev("group.joined", n, actor=f"u{n}", group="g1"), "actor": {"id": f"@u{n}:example.org", "name": name}}
            for n, name in enumerate(STARTS)]
           + [{**ev("group.joined", 200, actor="u0", group="g2"), "group": {"id": "!g2:example.org", "name": EVIL}},
              ev("order.paid", 300, actor="u0", amount_cents=990, order_id="o1")])
    rollups_refresh(workspace=workspace)
    return workspace


def csv_cells(text):
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def formulas(content):
    book = load_workbook(io.BytesIO(content))
    return [c.value for sheet in book for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def xlsx_values(content):
    return [c.value for row in load_workbook(io.BytesIO(content)).active.iter_rows() for c in row]


def test_the_rule_defuses_exactly_owasps_starts():
    assert [cell_defuse(s) for s in STARTS] == ["'" + s for s in STARTS]
    assert [cell_defuse(v) for v in ("王芳", "a=b", "", 5, -5, 2.5, None)] == ["王芳", "a=b", "", 5, -5, 2.5, None]
    assert "".join(csv_stream(headers=["=h"], rows=[[-5, "-5"]])) == "\ufeff'=h\r\n-5,'-5\r\n"


def test_the_members_csv_and_xlsx_carry_no_live_formula(hostile, tmp_path):
    out = io.BytesIO()
    members_export(workspace=hostile, out=out, fmt="csv")
    cells = csv_cells(out.getvalue().decode("utf-8"))
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert sum(c == "'" + s for c in cells for s in STARTS) == len(STARTS)
    path = tmp_path / "members.xlsx"
    with open(path, "wb") as file:
        members_export(workspace=hostile, out=file, fmt="xlsx")
    content = path.read_bytes()
    assert formulas(content) == []
    values = xlsx_values(content)
    assert all(s.replace("\r", "\n") in values for s in STARTS)  # text as written (XML reads CR as LF), typed as a string
    assert 9.9 in values and 1 in values  # spend and counts stay numbers


def test_the_console_downloads_carry_no_live_formula(client, hostile, make_staff):
    client.force_login(make_staff(hostile, role=Role.ADMIN))
    dashboard = reverse("console:dashboard", args=[hostile.slug])
    cells = csv_cells(client.get(dashboard + "?table=groups&format=csv").content.decode("utf-8"))
    assert "'" + EVIL in cells and EVIL not in cells
    xlsx = client.get(dashboard + "?table=groups&format=xlsx").content
    assert formulas(xlsx) == [] and EVIL in xlsx_values(xlsx)
    members = reverse("console:members_export", args=[hostile.slug])
    cells = csv_cells(b"".join(client.get(members + "?format=csv").streaming_content).decode("utf-8"))
    assert "'" + EVIL in cells and EVIL not in cells
    xlsx = b"".join(client.get(members + "?format=xlsx").streaming_content)
    assert formulas(xlsx) == [] and EVIL in xlsx_values(xlsx)
    group = Group.objects.get(workspace=hostile, name=EVIL)
    xlsx = client.get(reverse("console:group_analytics", args=[hostile.slug, group.pk]) + "?format=xlsx").content
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert isinstance(sheet.cell(row=2, column=1).value, datetime)  # days stay real dates
    assert isinstance(sheet.cell(row=2, column=2).value, int)
