"""Every WeCom callback kind from the published examples (客户联系, 客户群, 标签) and what it becomes."""
import pytest

from siyu.channels.wecom.events import CallbackUnparsable, callback_events
from siyu.groups.models import Group, Membership
from siyu.members.models import Identity

from .callbacks import event_xml

CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
CUSTOMER = "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA"
T = 1403610513


def _chat(detail=None, **fields):
    extra = {"UpdateDetail": detail} if detail else {}
    return event_xml("change_external_chat", create_time=T, ChatId=CHAT, ChangeType="update" if detail else fields.pop("ChangeType"), **extra, **fields)


@pytest.mark.parametrize("change, state, expected", [
    ("add_external_contact", "poster-moments", {"contact": "add_external_contact", "staff": "zhangsan", "code": "poster-moments"}),
    ("add_half_external_contact", "live-0501", {"contact": "add_half_external_contact", "staff": "zhangsan", "code": "live-0501"}),
    ("edit_external_contact", None, {"contact": "edit_external_contact", "staff": "zhangsan"}),
    ("del_external_contact", None, {"contact": "del_external_contact", "staff": "zhangsan"}),
    ("del_follow_user", None, {"contact": "del_follow_user", "staff": "zhangsan"}),
])
def test_customer_contact_events(change, state, expected):
    fields = {"ChangeType": change, "UserID": "zhangsan", "ExternalUserID": CUSTOMER}
    if state:
        fields |= {"State": state, "WelcomeCode": "WELCOMECODE"}
    [event] = callback_events(event_xml("change_external_contact", create_time=T, **fields))
    assert event["type"] == "member.profile_updated"
    assert event["actor"] == {"id": CUSTOMER}
    assert event["data"] == expected  # the welcome code is not kept: it is good for 20 seconds, for one send
    assert event["occurred_at"] == "2014-06-24T11:48:33+00:00"


def test_transfer_fail_and_deletion_by_transfer_carry_the_reason():
    [failed] = callback_events(event_xml("change_external_contact", create_time=T, ChangeType="transfer_fail",
                                         FailReason="customer_refused", UserID="zhangsan", ExternalUserID=CUSTOMER))
    assert failed["data"] == {"contact": "transfer_fail", "staff": "zhangsan", "reason": "customer_refused"}
    [deleted] = callback_events(event_xml("change_external_contact", create_time=T, ChangeType="del_external_contact",
                                          UserID="zhangsan", ExternalUserID=CUSTOMER, Source="DELETE_BY_TRANSFER"))
    assert deleted["data"]["reason"] == "DELETE_BY_TRANSFER"


def test_group_created_and_dismissed():
    [created] = callback_events(_chat(ChangeType="create"))
    [dismissed] = callback_events(_chat(ChangeType="dismiss"))
    assert (created["type"], created["group"], created["data"]) == ("group.updated", {"id": CHAT}, {"change": "create"})
    assert dismissed["data"] == {"change": "dismiss"}
    assert created["source_id"] != dismissed["source_id"]


@pytest.mark.parametrize("scene, expected", [("0", "invited"), ("1", "invited_by_link"), ("3", "qr")])
def test_members_joining_one_event_each_with_the_scene(scene, expected):
    events = callback_events(_chat("add_member", JoinScene=scene, QuitScene="0", MemChangeCnt="2",
                                   MemChangeList=["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "wmOgQhDgAAuXFJGwbve4g4iXknfOBBBB"]))
    assert [(e["type"], e["actor"]["id"], e["data"]) for e in events] == [
        ("group.joined", "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", {"scene": expected}),
        ("group.joined", "wmOgQhDgAAuXFJGwbve4g4iXknfOBBBB", {"scene": expected}),
    ]
    assert len({e["source_id"] for e in events}) == 2


@pytest.mark.parametrize("scene, expected", [("0", "left"), ("1", "removed")])
def test_members_leaving_with_the_scene(scene, expected):
    [left] = callback_events(_chat("del_member", JoinScene="0", QuitScene=scene, MemChangeCnt="1", MemChangeList=["Jack"]))
    assert (left["type"], left["actor"], left["data"]) == ("group.left", {"id": "Jack"}, {"membership": "leave", "scene": expected})


def test_a_comma_separated_member_list_is_read_too():
    text = _chat("add_member", JoinScene="3").replace("</xml>", "<MemChangeList><![CDATA[Jack,Rose]]></MemChangeList></xml>")
    assert [e["actor"]["id"] for e in callback_events(text)] == ["Jack", "Rose"]


@pytest.mark.parametrize("detail", ["change_owner", "change_name", "change_notice"])
def test_group_detail_changes_say_what_changed(detail):
    # The new owner, name or notice is not in the callback (groupchat/get says it): recorded as "changed".
    [event] = callback_events(_chat(detail))
    assert (event["type"], event["data"]) == ("group.updated", {"change": detail})


@pytest.mark.parametrize("text", [
    event_xml("change_external_tag", create_time=T, Id="etXXXXXXXXXX", TagType="tag", ChangeType="create"),
    event_xml("change_external_tag", create_time=T, Id="etXXXXXXXXXX", TagType="tag_group", ChangeType="shuffle", StrategyId="1"),
    "<xml><ToUserName>ww1</ToUserName><FromUserName>mycreate</FromUserName><CreateTime>1409659813</CreateTime>"
    "<MsgType>text</MsgType><Content>hello</Content><MsgId>4561255354251345929</MsgId><AgentID>218</AgentID></xml>",
    event_xml("enter_agent", create_time=T),
])
def test_tag_library_changes_and_app_messages_become_nothing(text):
    assert callback_events(text) == []


@pytest.mark.parametrize("text, reason", [
    (event_xml("change_external_chat", create_time=T, ChangeType="update", UpdateDetail="add_member", MemChangeList=["a"]), "no ChatId"),
    (_chat("add_member", JoinScene="0"), "no MemChangeList"),
    (_chat("rename_everything"), "unknown UpdateDetail"),
    (_chat(ChangeType="explode"), "unknown ChangeType"),
    (event_xml("change_external_contact", create_time=T, ChangeType="add_external_contact", UserID="zhangsan"), "no ExternalUserID"),
    (event_xml("change_external_contact", create_time="soon", ChangeType="del_follow_user", UserID="a", ExternalUserID="b"), "CreateTime"),
    ("<xml><MsgType>event", "not acceptable XML"),
])
def test_what_does_not_parse_says_why(text, reason):
    with pytest.raises(CallbackUnparsable, match=reason):
        callback_events(text)


def test_a_join_and_a_leave_reach_the_groups_and_members(workspace, ingest):
    joined = callback_events(_chat("add_member", JoinScene="3", State="code-7", MemChangeList=["Jack", "Rose"]))
    left = callback_events(_chat("del_member", QuitScene="1", MemChangeList=["Rose"]).replace(str(T), str(T + 60)))
    result = ingest(joined + left, source="wecom")
    assert (result.stored, result.duplicates) == (3, 0)
    assert ingest(joined + left, source="wecom").stored == 0  # WeCom's retry: the same callbacks, stored once
    group = Group.objects.get(workspace=workspace, channel="wecom", external_id=CHAT)
    assert sorted(Identity.objects.filter(workspace=workspace, channel="wecom").values_list("external_id", flat=True)) == ["Jack", "Rose"]
    open_stays = Membership.objects.filter(group=group, left_at__isnull=True)
    assert [m.member.display_name for m in open_stays] == ["Jack"]
