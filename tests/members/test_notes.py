from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from siyu.core.models import Role
from siyu.members.models import Member, Note, NoteKind
from siyu.members.notes import note_add, note_delete, notes_for_timeline, remark_set
from siyu.members.selectors import member_timeline
from tests.conftest import T0, ev


@pytest.fixture
def member(workspace, ingest):
    ingest([ev("group.message", n, actor="ann", group="g", minutes=n * 10, text=f"m{n}") for n in range(1, 4)])
    return Member.objects.get(workspace=workspace)


def test_note_add_validates(workspace, member, make_staff):
    user = make_staff(workspace, Role.SALES)
    note = note_add(member=member, author=user, kind=NoteKind.CALL, text="  问了续费  ")
    assert note.text == "问了续费" and note.kind == "call" and note.workspace_id == workspace.pk
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            note_add(member=member, author=user, kind="fax", text="")
        assert set(error.value.message_dict) == {"kind", "text"}
        with pytest.raises(ValidationError, match="At most 4000"):
            note_add(member=member, author=user, kind=NoteKind.NOTE, text="x" * 4001)
        with pytest.raises(ValidationError, match="not happened yet"):
            note_add(member=member, author=user, kind=NoteKind.NOTE, text="x", occurred_at=timezone.now() + timedelta(days=1))
    assert note_add(member=member, author=user, kind=NoteKind.NOTE, text="x" * 4000)


def test_viewers_cannot_add_notes(workspace, member, make_staff, make_workspace):
    viewer = make_staff(workspace, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        note_add(member=member, author=viewer, kind=NoteKind.NOTE, text="hi")
    stranger = make_staff(make_workspace(), Role.ADMIN)
    with pytest.raises(PermissionDenied):
        note_add(member=member, author=stranger, kind=NoteKind.NOTE, text="hi")
    assert not Note.objects.exists()


def test_note_delete_by_author_or_admin(workspace, member, make_staff):
    author, other, admin = make_staff(workspace), make_staff(workspace), make_staff(workspace, Role.ADMIN)
    note = note_add(member=member, author=author, kind=NoteKind.VISIT, text="上门")
    with pytest.raises(PermissionDenied):
        note_delete(note=note, by=other)
    note_delete(note=note, by=author)
    note = note_add(member=member, author=author, kind=NoteKind.VISIT, text="上门")
    note_delete(note=note, by=admin)
    assert not Note.objects.exists()


def test_remark_set(workspace, member, make_staff):
    user = make_staff(workspace, Role.SALES)
    remark_set(member=member, remark="  妈妈是老师\n只周末回 ", by=user)
    assert Member.objects.get(pk=member.pk).remark == "妈妈是老师 只周末回"
    with pytest.raises(ValidationError):
        remark_set(member=member, remark="x" * 201, by=user)
    with pytest.raises(PermissionDenied):
        remark_set(member=member, remark="x", by=make_staff(workspace, Role.VIEWER))


def test_notes_interleave_with_events_once_across_pages(workspace, member, make_staff):
    user = make_staff(workspace)
    for minutes in (5, 15, 25, 40):  # between and around the messages at 10, 20, 30
        note_add(member=member, author=user, kind=NoteKind.NOTE, text=f"n{minutes}", occurred_at=T0 + timedelta(minutes=minutes))
    events, next_before = member_timeline(member=member, limit=2)
    page1 = notes_for_timeline(member=member, events=events, more=next_before is not None)
    assert [getattr(i, "text", None) or i.data["text"] for i in page1] == ["n40", "m3", "n25", "m2"]
    events, more = member_timeline(member=member, before_id=next_before, limit=2)
    page2 = notes_for_timeline(member=member, events=events, before_id=next_before, more=more is not None)
    assert [getattr(i, "text", None) or i.data["text"] for i in page2] == ["n15", "m1", "n5"]


def test_member_page_shows_notes_and_adds_them(client, workspace, member, make_staff):
    user = make_staff(workspace, Role.SALES)
    client.force_login(user)
    url = reverse("console:member_note_add", args=[workspace.slug, member.number])
    with translation.override("en"):
        response = client.post(url, {"kind": "call", "text": "问了续费, 下周回电"})
        assert response.status_code == 302
        page = client.get(reverse("console:member", args=[workspace.slug, member.number]), HTTP_ACCEPT_LANGUAGE="en")
        page = page.content.decode()
    assert "问了续费, 下周回电" in page and "Call" in page
    client.post(reverse("console:member_remark", args=[workspace.slug, member.number]), {"remark": "只周末回"})
    assert Member.objects.get(pk=member.pk).remark == "只周末回"
    members_page = client.get(reverse("console:members", args=[workspace.slug])).content.decode()
    assert "只周末回" in members_page


def test_viewer_sees_no_note_form_and_cannot_post(client, workspace, member, make_staff):
    client.force_login(make_staff(workspace, Role.VIEWER))
    page = client.get(reverse("console:member", args=[workspace.slug, member.number])).content.decode()
    assert 'name="text"' not in page
    response = client.post(reverse("console:member_note_add", args=[workspace.slug, member.number]), {"kind": "note", "text": "x"})
    assert response.status_code == 403
    assert not Note.objects.exists()


def test_services_refuse_in_the_one_way_the_console_shows(workspace, member, make_staff):
    """A service called from the CLI or a task refuses with the same RoleRequired as the views: it names the roles."""
    from siyu.core.roles import ADMINS, WRITERS, RoleRequired

    viewer, sales = make_staff(workspace, Role.VIEWER), make_staff(workspace, Role.SALES)
    with pytest.raises(RoleRequired) as refused:
        note_add(member=member, author=viewer, kind=NoteKind.NOTE, text="x")
    assert refused.value.roles == WRITERS
    note = note_add(member=member, author=sales, kind=NoteKind.NOTE, text="x")
    with pytest.raises(RoleRequired) as refused:
        note_delete(note=note, by=make_staff(workspace, Role.OPERATOR))
    assert refused.value.roles == ADMINS
    note_delete(note=note, by=sales)
    assert not Note.objects.filter(pk=note.pk).exists()
