import json

import pytest
from django.urls import reverse
from django.utils import translation

from siyu.core.models import AuditEntry, Role
from siyu.members import privacy
from siyu.members.models import Member, MemberMerge
from tests.conftest import ev

PHONE = "13812345678"


@pytest.fixture
def person(workspace, ingest):
    ingest([ev("group.joined", 1, actor="ann", group="g"), ev("group.message", 2, actor="ann", group="g", text="hi")])
    member = Member.objects.get(workspace=workspace)
    privacy.member_contacts_set(member=member, phone=PHONE, email="ann@example.org", wechat="wxid_ann")
    return member


def _page(client, workspace, member):
    with translation.override("en"):
        return client.get(reverse("console:member", args=[workspace.slug, member.number]), HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.parametrize("role", Role.values)
def test_member_page_shows_contacts_masked_to_every_role_until_revealed(client, workspace, person, make_staff, role):
    client.force_login(make_staff(workspace, role=role))
    body = _page(client, workspace, person).content.decode()
    assert "138****5678" in body and PHONE not in body and "a***@example.org" in body
    admin = role in (Role.OWNER, Role.ADMIN)
    assert ("Reveal" in body) is admin
    assert ("Export this person" in body) is admin
    assert ("Edit contact details" in body) is (role in (Role.OWNER, Role.ADMIN, Role.OPERATOR))
    response = client.post(reverse("console:member_contacts_reveal", args=[workspace.slug, person.number]), HTTP_HX_REQUEST="true")
    if admin:
        assert response.status_code == 200 and PHONE in response.content.decode()
        assert AuditEntry.objects.filter(action="contact_revealed", data={"member": person.number}).count() == 1
    else:
        assert response.status_code == 403
        assert not AuditEntry.objects.filter(action="contact_revealed").exists()


def test_operator_edits_contacts_and_sees_errors(client, workspace, person, make_staff):
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    url = reverse("console:member_contacts", args=[workspace.slug, person.number])
    with translation.override("en"):
        response = client.post(url, {"phone": "123", "email": "a***@example.org", "wechat": "w***n"},
                               HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert "11 digits" in response.content.decode()
    response = client.post(url, {"phone": "+86 139 0000 1111", "email": "a***@example.org", "wechat": ""})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.phone == "13900001111" and person.email == "ann@example.org" and person.wechat == ""


def test_viewer_cannot_edit_export_or_erase(client, workspace, person, make_staff):
    client.force_login(make_staff(workspace, role=Role.VIEWER))
    args = [workspace.slug, person.number]
    assert client.post(reverse("console:member_contacts", args=args), {"phone": ""}).status_code == 403
    assert client.post(reverse("console:member_export", args=args)).status_code == 403
    assert client.get(reverse("console:member_erase", args=args)).status_code == 403
    assert client.get(reverse("console:member_merges", args=[workspace.slug])).status_code == 200


def test_admin_exports_and_erases_with_typed_number(client, workspace, person, make_staff):
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    args = [workspace.slug, person.number]
    response = client.post(reverse("console:member_export", args=args))
    assert response["Content-Disposition"].startswith("attachment")
    assert json.loads(response.content)["contacts"]["phone"] == PHONE
    url = reverse("console:member_erase", args=args)
    assert client.post(url, {"confirm": "999", "reason": "asked"}).status_code == 200
    assert Member.objects.get(pk=person.pk).erased_at is None
    response = client.post(url, {"confirm": f"#{person.number}", "reason": "asked"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.erased_at is not None and person.phone == ""
    assert AuditEntry.objects.get(action="member_erased").data["reason"] == "asked"


def test_merge_page_merges_and_undoes(client, workspace, person, ingest, make_staff):
    ingest([ev("group.joined", 3, actor="anne", group="g", minutes=5)])
    other = Member.objects.get(workspace=workspace, identities__external_id="@anne:example.org")
    privacy.member_contacts_set(member=other, phone=f"+86 {PHONE}")
    client.force_login(make_staff(workspace, role=Role.ADMIN))
    url = reverse("console:member_merges", args=[workspace.slug])
    body = client.get(url).content.decode()
    assert f"#{other.number}" in body and PHONE not in body
    assert client.post(url, {"kept": person.number, "merged": other.number, "reason": "same"}).status_code == 302
    merge = MemberMerge.objects.get()
    assert Member.objects.get(pk=other.pk).merged_into_id == person.pk
    members_page = client.get(reverse("console:members", args=[workspace.slug])).content.decode()
    assert f"/members/{other.number}/" not in members_page and f"/members/{person.number}/" in members_page
    assert client.post(reverse("console:member_merge_undo", args=[workspace.slug, merge.pk])).status_code == 302
    assert Member.objects.get(pk=other.pk).merged_into_id is None
    with translation.override("en"):
        response = client.post(url, {"kept": person.number, "merged": person.number}, HTTP_ACCEPT_LANGUAGE="en")
    assert "itself" in response.content.decode()
