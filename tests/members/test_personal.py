"""Each app declares what it holds about a person; export, erase and merge use the declarations."""
import json

import pytest

from siyu.core.models import Event
from siyu.members import personal, privacy
from siyu.members.models import Member
from siyu.members.personal import PersonalData, personal_data, personal_data_register
from tests.conftest import ev


def test_groups_links_channels_matrix_and_analytics_declare_what_they_hold():
    entries = {entry.app: entry for entry in personal_data()}
    assert list(entries) == ["groups", "links", "channels", "matrix", "analytics"]
    assert set(entries["channels"].export) == {"webhook_dead_letters"}
    assert set(entries["matrix"].export) == {"matrix_room_names"}
    assert set(entries["groups"].export) == {"group_stays", "strikes"}
    assert {"ua", "ip", "referer"} <= entries["links"].event_keys
    assert set(entries["analytics"].merge_earliest) == {"analytics.CampaignTouch", "analytics.Invite"}


@pytest.fixture
def registered():
    """An app registered the way campaigns will: its own section of the export and its own erase."""
    seen = []
    entry = personal_data_register(PersonalData(
        app="campaigns_test", export={"check_ins": lambda member: [member.number]}, erase=seen.append,
        event_keys=frozenset({"answer"}),
    ))
    yield entry, seen
    personal._registered.pop(entry.app)


def test_a_registered_app_is_exported_and_erased(workspace, ingest, registered):
    _entry, seen = registered
    ingest([ev("group.joined", "a-0", actor="alice", group="g"),
            ev("group.message", "a-1", actor="alice", group="g", text="hi", answer="my secret answer")])
    member = Member.objects.get(workspace=workspace, identities__external_id="@alice:example.org")
    data = json.loads(privacy.member_data_export(member=member))
    assert data["check_ins"] == [member.number]
    assert list(data)[-1] == "events" and "group_stays" in data
    privacy.member_erase(member=member)
    assert [e.member.pk for e in seen] == [member.pk]
    assert seen[0].external_ids == {"@alice:example.org"}
    assert seen[0].person_scrub({"id": "@alice:example.org", "name": "alice"}) == {
        "id": f"erased-{member.number}", "name": f"已删除 #{member.number}"}
    assert [data for data in Event.objects.filter(member=member).values_list("data", flat=True) if "answer" in data] == []


def test_two_apps_cannot_claim_one_export_section(registered):
    with pytest.raises(Exception, match="check_ins"):
        personal_data_register(PersonalData(app="other", export={"check_ins": list}))
