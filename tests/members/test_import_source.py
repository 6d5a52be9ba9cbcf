"""Member import (15.6): the channel column is the member's source (shown, usable in segments); imported members
get an "Imported" timeline entry and a first-seen time; importing the same file again changes nothing."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from siyu.core.events import EventType
from siyu.core.models import Event, Role
from siyu.members import imports
from siyu.members.filters import filter_describe, filter_member_ids
from siyu.members.models import Member, MemberStats, MemberTag
from siyu.members.sources import source_label, source_normalise
from siyu.members.tags import tag_create


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def run(workspace, tmp_path, lines, name="members.csv", commit=True, **options):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    imp = imports.import_create(workspace=workspace, by=None, path=path)
    imports.import_configure(member_import=imp, **options)
    return imp, imports.import_run(member_import=imp, commit=commit)


def test_channel_headers_map_to_the_source_field():
    proposed = imports.mapping_propose(["姓名", "渠道", "渠道:wecom"])
    assert proposed == {"姓名": "display_name", "渠道": "source", "渠道:wecom": "identity:wecom"}
    for header in ("来源", "Channel", "source", "客户来源"):
        assert imports.mapping_propose([header]) == {header: "source"}


def test_known_sources_are_stored_by_key_and_shown_by_label():
    assert source_normalise(" 抖音 ") == source_normalise("Douyin") == source_normalise("douyin") == "douyin"
    assert source_normalise("朋友推荐") == source_normalise("转介绍") == "friend-referral"
    assert source_normalise("杭州 地铁  广告牌") == "杭州 地铁 广告牌"  # unknown: the text, spaces tidied
    assert source_label("douyin") == "Douyin" and source_label("杭州地铁") == "杭州地铁"
    with translation.override("zh-hans"):
        assert source_label("douyin") == "抖音" and source_label("friend-referral") == "好友推荐"


def test_the_channel_column_sets_the_source_and_a_segment_finds_it(tmp_path, workspace):
    _imp, result = run(workspace, tmp_path, ["姓名,手机,渠道", "王小明,13800138000,抖音", "李华,13900139000,小区团购群",
                                             "张伟,13700137000,"])
    assert result.committed and result.created == 3, result.report
    sources = dict(Member.objects.values_list("display_name", "source"))
    assert sources == {"王小明": "douyin", "李华": "小区团购群", "张伟": ""}
    wang, li, zhang = (Member.objects.get(display_name=n).pk for n in ("王小明", "李华", "张伟"))
    assert filter_member_ids(workspace=workspace, filter={"source": "douyin"}) == {wang}
    assert filter_member_ids(workspace=workspace, filter={"source": "抖音"}) == {wang}  # a label works as well
    assert filter_member_ids(workspace=workspace, filter={"source": "小区团购群"}) == {li}
    assert filter_member_ids(workspace=workspace, filter={"source": ""}) == {zhang}
    assert filter_describe(workspace=workspace, filter={"source": "douyin"}) == "source Douyin"
    # An update changes the source like any other field, and the dry run shows it by label.
    imp, result = run(workspace, tmp_path, ["手机,来源", "13900139000,转介绍"], "b.csv", commit=False)
    assert result.updates[0]["changes"] == [["source", "小区团购群", "Friend referral"]]


def test_a_source_longer_than_the_field_is_a_bad_row(tmp_path, workspace):
    _imp, result = run(workspace, tmp_path, ["姓名,渠道", f"王小明,{'长' * 65}"], commit=False)
    assert result.report == [{"line": 2, "column": "渠道", "reason": "Longer than 64 characters."}]


def test_a_bad_source_condition_says_why(workspace):
    from siyu.members.filters import FilterError, filter_compile

    with pytest.raises(FilterError, match="source must be text"):
        filter_compile(workspace=workspace, filter={"all": [{"source": 3}]})


def test_imported_members_get_a_timeline_entry_and_a_first_seen_time(tmp_path, workspace):
    imp, result = run(workspace, tmp_path, ["姓名,手机", "王小明,13800138000"], "老客户.csv")
    member = Member.objects.get()
    event = Event.objects.get(type=EventType.MEMBER_IMPORTED)
    assert event.member_id == member.pk and event.data == {"import": imp.pk, "file": "老客户.csv", "line": 2, "created": True}
    stats = MemberStats.objects.get(member=member)
    assert stats.first_seen_at == event.occurred_at and stats.last_seen_at is None  # imported is not seen


def test_an_existing_members_earlier_first_seen_is_kept_and_last_seen_untouched(tmp_path, workspace):
    _imp, _result = run(workspace, tmp_path, ["姓名,手机", "王小明,13800138000"])
    member = Member.objects.get()
    earlier = timezone.now() - timedelta(days=40)
    MemberStats.objects.filter(member=member).update(first_seen_at=earlier, last_seen_at=earlier)
    imp, result = run(workspace, tmp_path, ["手机,城市", "13800138000,杭州"], "b.csv")
    assert result.updated == 1
    event = Event.objects.filter(type=EventType.MEMBER_IMPORTED).latest("id")
    assert event.data["created"] is False and event.data["file"] == "b.csv"
    stats = MemberStats.objects.get(member=member)
    assert stats.first_seen_at == earlier and stats.last_seen_at == earlier


def test_a_ledger_rebuild_gives_the_same_first_seen(tmp_path, workspace):
    from siyu.core.rebuild import projections_rebuild

    run(workspace, tmp_path, ["姓名,手机", "王小明,13800138000"])
    before = MemberStats.objects.values_list("member", "first_seen_at", "last_seen_at").get()
    projections_rebuild(workspace=workspace)
    assert MemberStats.objects.values_list("member", "first_seen_at", "last_seen_at").get() == before


def test_importing_the_same_file_again_changes_nothing(tmp_path, workspace):
    tag_create(workspace=workspace, name="高意向")
    lines = ["姓名,手机,城市,标签,渠道,identity:wecom", "王小明,13800138000,北京,高意向,抖音,wm-1",
             "李华,13900139000,上海,,转介绍,wm-2"]
    run(workspace, tmp_path, lines)

    def state():
        return (list(Member.objects.order_by("pk").values_list("pk", "number", "display_name", "city", "source", "phone")),
                list(MemberTag.objects.order_by("pk").values_list("member", "tag")), Event.objects.count(),
                list(MemberStats.objects.order_by("pk").values_list("member", "first_seen_at", "last_seen_at")))

    before = state()
    _imp, result = run(workspace, tmp_path, lines, "again.csv")
    assert result.committed and (result.created, result.updated, result.bad_rows) == (0, 2, 0)
    assert all(entry["changes"] == [] for entry in result.updates)
    assert state() == before  # no member, tag, event (no second "Imported" entry) or first-seen change


def test_the_member_page_list_and_timeline_show_source_and_import(client, tmp_path, workspace, make_staff):
    operator = make_staff(workspace, role=Role.OPERATOR)
    run(workspace, tmp_path, ["姓名,手机,渠道", "王小明,13800138000,抖音", "李华,13900139000,小区团购群"], "会员.csv")
    client.force_login(operator)
    wang = Member.objects.get(display_name="王小明")
    for language, label, kind, entry in (("en", "Douyin", "Imported", "created from the file 会员.csv"),
                                         ("zh-hans", "抖音", "已导入", "由文件 会员.csv 新建")):
        page = client.get(reverse("console:member", args=[workspace.slug, wang.number]),
                          HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert f'<dd id="member-source">{label}</dd>' in page
        assert f"<strong>{kind}</strong>" in page and entry in page
        listing = client.get(reverse("console:members", args=[workspace.slug]), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert f"<td>{label}</td>" in listing and "<td>小区团购群</td>" in listing


def test_the_segment_builder_has_a_source_row(client, tmp_path, workspace, make_staff):
    from siyu.members.models import Segment, SegmentMember

    run(workspace, tmp_path, ["姓名,手机,渠道", "王小明,13800138000,抖音", "李华,13900139000,转介绍"])
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    client.post(reverse("console:segment_new", args=[workspace.slug]),
                {"join": "all", "mode": "rows", "name": "抖音来的", "c-0-kind": "source", "c-0-text": "抖音"})
    segment = Segment.objects.get(workspace=workspace)
    assert segment.filter == {"all": [{"source": "抖音"}]}
    assert list(SegmentMember.objects.filter(segment=segment).values_list("member__display_name", flat=True)) == ["王小明"]
    page = client.get(reverse("console:segment_edit", args=[workspace.slug, segment.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert 'value="source" selected' in page.content.decode() and 'value="抖音"' in page.content.decode()
