"""The members list's bulk actions through the console (siyu.console.member_list)."""
import csv
import io

import pytest
from django.urls import reverse

from siyu.core.models import AuditEntry, Role
from siyu.members.models import BulkAction, Member, MemberTag, TagVia
from siyu.members.tags import tag_create, tags_apply
from tests.conftest import ev

PICK = 'name="member"'


@pytest.fixture
def listed(ingest, workspace):
    ingest([ev("group.joined", f"j{i}", actor=f"p{i}", group="g1" if i % 2 else "g2", minutes=i) for i in range(1, 9)])
    return workspace, tag_create(workspace=workspace, name="VIP")


def _post(client, workspace, data, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "member-results"} if htmx else {}
    return client.post(reverse("console:members_bulk", args=[workspace.slug]), data, HTTP_ACCEPT_LANGUAGE="en", **headers)


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_sales_and_viewers_see_no_bulk_controls_and_are_refused(client, listed, make_staff, role):
    workspace, vip = listed
    client.force_login(make_staff(workspace, role))
    page = client.get(reverse("console:members", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert PICK not in page and "bulk-form" not in page and "Add tags" not in page
    response = _post(client, workspace, {"action": "tag", "tags": [vip.pk], "member": ["1"], "key": "k"})
    assert response.status_code == 403 and "owners, admins and operators" in response.content.decode()
    assert not MemberTag.objects.exists()


def test_tag_all_that_match_then_undo_through_htmx(client, listed, make_staff):
    workspace, vip = listed
    client.force_login(make_staff(workspace, Role.OPERATOR))
    url = reverse("console:members", args=[workspace.slug])
    page = client.get(url, {"group": ""}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count(PICK) == 8 and "Select all 8 that match" in page
    first = Member.objects.get(workspace=workspace, number=1)
    tags_apply(workspace=workspace, pairs=[(first.pk, vip.pk)], via=TagVia.MANUAL)  # already has it

    data = {"action": "tag", "tags": [vip.pk], "all": "1", "expected": "8", "filter": "", "key": "k1"}
    done = _post(client, workspace, data)
    again = _post(client, workspace, data)  # a double submit
    body = done.content.decode()
    assert done.status_code == 200 and "<html" not in body and "7 tags given (8 members selected)" in body
    assert "Undo (7 tags)" in body and "Undo (7 tags)" in again.content.decode()
    assert BulkAction.objects.count() == 1 and MemberTag.objects.count() == 8
    assert AuditEntry.objects.filter(action="bulk_tag").count() == 1

    action = BulkAction.objects.get()
    undo = client.post(reverse("console:members_bulk_undo", args=[workspace.slug, action.pk]), {"filter": ""},
                       HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert "Undone: 7 tags restored." in undo.content.decode()
    assert list(MemberTag.objects.values_list("member_id", flat=True)) == [first.pk]
    twice = client.post(reverse("console:members_bulk_undo", args=[workspace.slug, action.pk]), {"filter": ""},
                        HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert "already undone" in twice.content.decode() and MemberTag.objects.count() == 1


def test_a_filter_that_changed_since_is_not_applied(client, listed, make_staff):
    workspace, vip = listed
    client.force_login(make_staff(workspace, Role.OPERATOR))
    response = _post(client, workspace, {"action": "tag", "tags": [vip.pk], "all": "1", "expected": "5",
                                         "filter": "q=P", "key": "k"})
    assert "The filter now matches 8 members, not the 5 you confirmed" in response.content.decode()
    assert not MemberTag.objects.exists() and not BulkAction.objects.exists()


@pytest.mark.parametrize("data, message", [
    ({"action": "tag", "tags": ["VIP"]}, "Select at least one member"),
    ({"action": "tag", "member": ["1", "999"]}, "Choose at least one tag"),
    ({"action": "tag", "member": ["1"], "tags": ["999999"]}, "no such tag"),
    ({"action": "tag", "member": ["1", "x1"], "tags": ["VIP"]}, "Not a member number: x1"),
    ({"action": "owner", "member": ["1"], "owner": "999999"}, "Choose a staff member of this workspace"),
    ({"action": "lead_list", "member": ["1"], "lead_list": "5"}, "Choose a lead list of this workspace"),
    ({"action": "export", "member": ["1"], "format": "pdf"}, "Choose CSV or XLSX"),
    ({"action": "nope", "member": ["1"]}, "Choose what to do"),
])
def test_bad_input_gets_a_message_and_writes_nothing(client, listed, make_staff, data, message):
    workspace, vip = listed
    client.force_login(make_staff(workspace, Role.OPERATOR))
    if data.get("tags") == ["VIP"]:
        data = {**data, "tags": [str(vip.pk)]}
    response = _post(client, workspace, {"key": "k", "filter": "", **data})
    assert response.status_code == 200 and message in response.content.decode()
    assert not MemberTag.objects.exists() and not BulkAction.objects.exists() and not AuditEntry.objects.exists()


def test_owner_set_without_javascript_and_export_download(client, listed, make_staff):
    workspace, _vip = listed
    operator = make_staff(workspace, Role.OPERATOR)
    sales = make_staff(workspace, Role.SALES)
    client.force_login(operator)
    response = _post(client, workspace, {"action": "owner", "owner": sales.pk, "member": ["2", "3"], "key": "k",
                                         "filter": "q=P"}, htmx=False)
    assert response.status_code == 302 and response.url.endswith("/members/?q=P")
    assert set(Member.objects.filter(owner=sales).values_list("number", flat=True)) == {2, 3}
    followed = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 members have a new owner (2 members selected)" in followed

    exported = _post(client, workspace, {"action": "export", "format": "csv", "member": ["2", "3"], "key": "e"},
                     htmx=False)
    assert exported.status_code == 302
    download = client.get(exported.url, HTTP_ACCEPT_LANGUAGE="en")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["Member number", "Name"] and [r[0] for r in rows[1:]] == ["2", "3"]
    assert rows[1][rows[0].index("Owner")] == sales.get_username()
    assert AuditEntry.objects.get(action="bulk_export").data["format"] == "csv"
    client.force_login(make_staff(workspace, Role.OPERATOR))  # another operator cannot fetch it
    assert client.get(exported.url).status_code == 404


def test_an_xlsx_export_of_all_that_match_has_the_export_columns(client, listed, make_staff):
    from openpyxl import load_workbook

    workspace, _vip = listed
    client.force_login(make_staff(workspace, Role.OPERATOR))
    response = _post(client, workspace, {"action": "export", "format": "xlsx", "all": "1", "expected": "8",
                                         "filter": "group=", "key": "x"})
    action = BulkAction.objects.get()
    download = reverse("console:members_bulk_download", args=[workspace.slug, action.pk])
    assert f'href="{download}" data-autodownload' in response.content.decode()
    sheet = load_workbook(io.BytesIO(client.get(download, HTTP_ACCEPT_LANGUAGE="en").content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Member number" and [r[0] for r in rows[1:]] == list(range(1, 9))
    assert sheet.freeze_panes == "A2"
