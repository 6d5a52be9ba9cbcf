import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from siyu.core.models import AuditEntry, Role, StaffRole
from siyu.members import privacy
from siyu.members.models import Identity, Member, Note, NoteKind
from tests.conftest import T0, ev

PHONE = "13987654321"
NAME = "Zhuangyuanlang"
TEXT = "my secret message about pelicans"


def _member(ingest, workspace, actor="alice"):
    ingest([ev("group.joined", f"{actor}-0", actor=actor, group="g"),
            ev("group.message", f"{actor}-1", actor=actor, group="g", text="hello")])
    return Member.objects.get(workspace=workspace, identities__external_id=f"@{actor}:example.org")


@pytest.mark.parametrize("text", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678",
                                  "0086 13812345678", "+86-138-1234-5678", "8613812345678"])
def test_phone_normalise_accepts_written_forms(text):
    assert privacy.phone_normalise(text) == "13812345678"


@pytest.mark.parametrize("text, reason", [("", "Enter a phone"), ("1381234567", "11 digits"),
                                          ("12812345678", "starts with 13 to 19"), ("138abc45678", "only digits")])
def test_phone_normalise_refuses_with_a_reason(text, reason):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        privacy.phone_normalise(text)
    assert reason in error.value.messages[0]


def test_masks():
    assert privacy.phone_mask("13812345678") == "138****5678"
    assert privacy.email_mask("alice@x.com") == "a***@x.com"
    assert privacy.wechat_mask("wxid_good") == "w***d"
    assert privacy.phone_mask("") == privacy.email_mask("") == privacy.wechat_mask("") == ""


def test_contacts_masked_or_plain_by_role(workspace, ingest, make_staff):
    member = _member(ingest, workspace)
    privacy.member_contacts_set(member=member, phone="+86 138 1234 5678", email="Alice@X.com", wechat="wxid_good")
    member.refresh_from_db()
    assert member.phone == "13812345678" and member.email == "alice@x.com"
    roles = {role: StaffRole.objects.get(user=make_staff(workspace, role=role)) for role in Role.values}
    for role, staff in roles.items():
        shown = privacy.contacts_for(member, staff)
        if role in (Role.OWNER, Role.ADMIN):
            assert shown == {"phone": "13812345678", "email": "alice@x.com", "wechat": "wxid_good", "masked": False}
        else:
            assert shown == {"phone": "138****5678", "email": "a***@x.com", "wechat": "w***d", "masked": True}
    with pytest.raises(PermissionDenied):
        privacy.contact_reveal(member=member, staff_role=roles[Role.OPERATOR])
    assert privacy.contact_reveal(member=member, staff_role=roles[Role.ADMIN])["phone"] == "13812345678"
    audit = AuditEntry.objects.get(action="contact_revealed")
    assert audit.user == roles[Role.ADMIN].user and audit.data == {"member": member.number}


def test_contacts_set_validates_all_before_writing(workspace, ingest):
    member = _member(ingest, workspace)
    with translation.override("en"), pytest.raises(ValidationError) as error:
        privacy.member_contacts_set(member=member, phone="12345", email="not-an-email")
    assert set(error.value.message_dict) == {"phone", "email"}
    member.refresh_from_db()
    assert member.phone == "" and member.phone_digest == ""


def test_phone_encrypted_at_rest_and_found_by_digest(workspace, ingest):
    member = _member(ingest, workspace)
    privacy.member_contacts_set(member=member, phone=PHONE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_digest FROM members_member WHERE id = %s", [member.pk])
        raw, digest = cursor.fetchone()
    assert raw and PHONE not in raw and PHONE[-4:] not in raw
    assert digest and PHONE not in digest
    assert list(privacy.member_find_by_phone(workspace=workspace, phone=f"+86 {PHONE}")) == [member]


def test_export_holds_everything_and_is_audited(workspace, ingest, make_staff):
    admin = make_staff(workspace, role=Role.ADMIN)
    member = _member(ingest, workspace)
    ingest([ev("group.message", 2, actor="alice", group="g", minutes=1, text=TEXT)])
    privacy.member_contacts_set(member=member, phone=PHONE)
    Note.objects.create(workspace=workspace, member=member, author=admin, kind=NoteKind.CALL, text="called", occurred_at=T0)
    body = privacy.member_data_export(member=member, by=admin)
    data = json.loads(body)
    assert data["member"]["number"] == member.number
    assert data["contacts"]["phone"] == PHONE
    assert data["identities"][0]["external_id"] == "@alice:example.org"
    assert [n["text"] for n in data["notes"]] == ["called"]
    assert data["group_stays"][0]["group"] == "Group g"
    assert TEXT in [e["data"].get("text") for e in data["events"]]
    assert set(data) >= {"tags", "segments", "leads", "events", "strikes"}
    audit = AuditEntry.objects.get(action="member_exported")
    assert audit.user == admin and PHONE not in json.dumps(audit.data)


def _text_columns():
    """(table, column) of every text, varchar and JSON column in the database."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                kind = connection.introspection.get_field_type(column.type_code, column)
                if kind in ("CharField", "TextField", "JSONField") or "char" in str(column.type_code).lower() \
                        or "text" in str(column.type_code).lower():
                    found.append((table, column.name))
    return found


def _occurrences(value):
    hits = []
    quote = connection.ops.quote_name
    cast = "CAST({} AS TEXT)" if connection.vendor == "postgresql" else "{}"
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(table)} WHERE {cast.format(quote(column))} LIKE %s", [f"%{value}%"]
            )
            if cursor.fetchone()[0]:
                hits.append((table, column))
    return hits


def test_erase_leaves_no_personal_field_in_the_database(workspace, ingest, make_staff):
    admin = make_staff(workspace, role=Role.ADMIN)
    ingest([
        {**ev("group.joined", 1, actor="zyl", group="g"), "actor": {"id": "@zyl:example.org", "name": NAME}},
        {**ev("group.message", 2, actor="zyl", group="g", minutes=1, text=TEXT),
         "actor": {"id": "@zyl:example.org", "name": NAME}},
        {**ev("member.profile_updated", 3, actor="zyl", minutes=2, display_name=NAME, city="Hangzhou"),
         "actor": {"id": "@zyl:example.org", "name": NAME}},
        ev("group.joined", 4, actor="bob", group="g", minutes=3, inviter="@zyl:example.org"),
    ])
    member = Member.objects.get(identities__external_id="@zyl:example.org")
    privacy.member_contacts_set(member=member, phone=PHONE, email="zyl@example.org", wechat="wxid_zyl")
    Member.objects.filter(pk=member.pk).update(remark=f"{NAME} VIP", profile={"school": NAME})
    Note.objects.create(workspace=workspace, member=member, author=admin, text=f"{NAME} said {TEXT}", occurred_at=T0)
    assert _occurrences(NAME) and _occurrences(TEXT)

    privacy.member_erase(member=member, by=admin, reason="asked by the person")

    for value in (PHONE, NAME, TEXT, "Hangzhou", "zyl@example.org", "wxid_zyl", "@zyl:example.org"):
        assert _occurrences(value) == [], value
    member.refresh_from_db()
    assert member.display_name == f"已删除 #{member.number}" and member.erased_at is not None
    assert member.phone == member.phone_digest == member.city == member.remark == "" and member.profile == {}
    assert Note.objects.get(member=member).text == ""
    from siyu.core.models import Event
    assert Event.objects.filter(member=member).count() == 3  # kept, without personal data
    audit = AuditEntry.objects.get(action="member_erased")
    assert audit.data == {"member": member.number, "reason": "asked by the person", "also": []}


def test_erased_member_cannot_be_reidentified(workspace, ingest):
    member = _member(ingest, workspace)
    privacy.member_erase(member=member, reason="")
    assert not Identity.objects.filter(member=member).exists()
    ingest([ev("group.message", 99, actor="alice", group="g", minutes=5, text="back again")])
    newcomer = Member.objects.get(identities__external_id="@alice:example.org")
    assert newcomer.pk != member.pk
    with translation.override("en"), pytest.raises(ValidationError, match="already erased"):
        privacy.member_erase(member=Member.objects.get(pk=member.pk), reason="")


def test_phone_normalise_names_a_number_excel_shortened():
    with translation.override("en"), pytest.raises(ValidationError) as error:
        privacy.phone_normalise("1.38E+10")
    assert "Excel shortened" in error.value.messages[0]
