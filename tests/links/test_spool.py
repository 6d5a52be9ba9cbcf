"""The flush: spooled clicks become link.clicked events once, counters follow, bots are flagged."""
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.conf import settings

from siyu.analytics import metrics
from siyu.analytics.rollups import rollups_refresh
from siyu.core.events import EventType
from siyu.core.models import Event
from siyu.core.rebuild import projections_rebuild
from siyu.groups.models import Group, GroupDailyStats
from siyu.links.models import LinkBreakdown, LinkDay, SpoolOffset
from siyu.links.refs import member_ref
from siyu.links.spool import ip_anonymise, links_spool_flush, user_agent_parse
from siyu.members.models import Member
from tests.links.conftest import CHROME, FACEBOOK, SLACKBOT, TELEGRAM, WECHAT, open_visit

# 2026-03-02 09:00 in Shanghai
MORNING = datetime(2026, 3, 2, 1, 0, tzinfo=dt_timezone.utc)


def clicks():
    return list(Event.objects.filter(type=EventType.LINK_CLICKED).order_by("id"))


def test_a_flush_stores_each_click_once_with_what_we_record(workspace, make_link, ingest):
    ingest([{"type": "group.updated", "source_id": "g", "occurred_at": MORNING.isoformat(),
             "group": {"id": "!a:example.org", "name": "A"}}])
    member = Member.objects.create(workspace=workspace, number=99, display_name="Ann")
    link = make_link(group=Group.objects.get())
    open_visit(link, query={"m": member_ref(member), "qr": "1"}, user_agent=WECHAT,
               referer="https://mp.weixin.qq.com/s/abc?x=1", remote_addr="198.51.100.77", now=MORNING)
    open_visit(link, query={"m": "forged.xxxxxxxxxxxxxxxx"}, remote_addr="2001:db8:85a3:1:2:3:4:5", now=MORNING)

    result = links_spool_flush()
    assert (result.clicks, result.stored) == (2, 2)
    wechat, desktop = clicks()
    assert (wechat.source, wechat.member_id, wechat.group_id, wechat.occurred_at) == ("links", member.pk, link.group_id, MORNING)
    assert {k: wechat.data[k] for k in ("link", "qr", "bot", "wechat", "browser", "os", "device", "referer", "ip", "member")} == {
        "link": link.pk, "qr": True, "bot": False, "wechat": True, "browser": "WeChat", "os": "iOS", "device": "iPhone",
        "referer": "mp.weixin.qq.com", "ip": "198.51.100.0", "member": member.pk,
    }
    assert wechat.data["ua"] == WECHAT
    assert (desktop.member_id, desktop.data["ip"], desktop.data["browser"], desktop.data["qr"]) == (None, "2001:db8:85a3::", "Chrome", False)

    assert links_spool_flush().stored == 0  # nothing read twice
    assert len(clicks()) == 2
    day = LinkDay.objects.get(link=link)
    assert (day.day, day.clicks, day.scans, day.humans, day.bots, day.wechat, day.members_reached) == (date(2026, 3, 2), 1, 1, 2, 0, 1, 1)
    assert GroupDailyStats.objects.get(group=link.group).exposures == 2


def test_bots_are_flagged_and_are_not_exposures_but_wechat_is_not_a_bot(workspace, make_link, ingest):
    ingest([{"type": "group.updated", "source_id": "g", "occurred_at": MORNING.isoformat(),
             "group": {"id": "!a:example.org", "name": "A"}}])
    link = make_link(group=Group.objects.get())
    agents = {"slack": SLACKBOT, "facebook": FACEBOOK, "telegram": TELEGRAM, "wechat": WECHAT, "chrome": CHROME}
    for agent in agents.values():
        open_visit(link, user_agent=agent, now=MORNING)
    links_spool_flush()
    flagged = {event.data["ua"]: event.data["bot"] for event in clicks()}
    assert flagged == {SLACKBOT: True, FACEBOOK: True, TELEGRAM: True, WECHAT: False, CHROME: False}
    assert GroupDailyStats.objects.get(group=link.group).exposures == 2
    day = LinkDay.objects.get(link=link)
    assert (day.clicks, day.bots, day.humans) == (5, 3, 2)
    assert set(LinkBreakdown.objects.filter(link=link, kind="browser").values_list("value", "visits")) == {("WeChat", 1), ("Chrome", 1)}


def test_user_agents_and_addresses_are_reduced():
    assert user_agent_parse("").bot is True
    assert ip_anonymise("203.0.113.200") == "203.0.113.0"
    assert ip_anonymise("::ffff:203.0.113.200") == "203.0.113.0"
    assert ip_anonymise("2001:db8:abcd:12::1") == "2001:db8:abcd::"
    assert ip_anonymise("not an ip") == ""


def test_counters_equal_the_clicks_and_survive_a_rebuild(workspace, make_link):
    links = [make_link() for _ in range(3)]
    for n in range(60):
        open_visit(links[n % 3], query={"qr": "1"} if n % 4 == 0 else {}, now=MORNING + timedelta(hours=n),
                   user_agent=SLACKBOT if n % 5 == 0 else CHROME)
    links_spool_flush(chunk_bytes=2048)  # many small transactions

    def counters():
        return {(d.link_id, d.day): (d.clicks, d.scans, d.bots, d.humans) for d in LinkDay.objects.all()}

    expected = {}
    for event in clicks():
        key = (event.data["link"], event.occurred_at.astimezone(workspace.tz).date())
        c, s, b, h = expected.get(key, (0, 0, 0, 0))
        expected[key] = (c + (not event.data["qr"]), s + event.data["qr"], b + event.data["bot"], h + (not event.data["bot"]))
    assert len(clicks()) == 60 and counters() == expected
    projections_rebuild(workspace=workspace)
    assert counters() == expected


def test_finished_files_of_live_processes_are_kept_and_offsets_stored(make_link):
    link = make_link()
    open_visit(link)
    links_spool_flush()
    (path,) = (settings.VAR_DIR / "spool" / "clicks").glob("*.jsonl")
    assert SpoolOffset.objects.get(file_name=path.name).offset == path.stat().st_size
    with open(path, "ab") as spool:
        spool.write(b'{"id": "partial')  # a line still being written is not read
    assert links_spool_flush().clicks == 0
    assert path.exists()  # this process still writes to it


def test_the_join_rate_on_a_fixed_ledger_with_exposures_from_clicks(workspace, make_link, ingest):
    """Group A, 2026-03-02..03-08 (Shanghai): 8 human visits of A's link (3 scans among them) and 3 bot
    visits; u1 and u2 were in A before; u3, u4 join on 03-02, u5 on 03-04. Join rate 3 / 8."""
    def joined(n, who, at):
        return {"type": "group.joined", "source_id": f"j{n}", "occurred_at": at,
                "actor": {"id": f"@{who}:x", "name": who}, "group": {"id": "!A:x", "name": "A"}}

    ingest([joined(1, "u1", "2026-03-01T02:00:00Z"), joined(2, "u2", "2026-03-01T03:00:00Z")], source="matrix")
    group = Group.objects.get()
    link = make_link(group=group)
    for n in range(8):
        open_visit(link, query={"qr": "1"} if n < 3 else {}, user_agent=WECHAT if n % 2 else CHROME,
                   now=MORNING + timedelta(days=2 * (n % 2), minutes=n))
    for agent in (SLACKBOT, FACEBOOK, TELEGRAM):
        open_visit(link, user_agent=agent, now=MORNING)
    links_spool_flush()
    ingest([joined(3, "u3", "2026-03-02T02:00:00Z"), joined(4, "u4", "2026-03-02T03:00:00Z"),
            joined(5, "u5", "2026-03-04T03:00:00Z")], source="matrix")
    rollups_refresh(workspace=workspace, today=date(2026, 3, 8))

    totals = metrics.period_totals(workspace=workspace, first=date(2026, 3, 2), last=date(2026, 3, 8), group=group.pk)
    rate = metrics.join_rate(totals)
    assert (rate.numerator, rate.denominator, rate.value) == (3, 8, 0.375)
    assert dict(GroupDailyStats.objects.filter(group=group, exposures__gt=0).values_list("day", "exposures")) == {
        date(2026, 3, 2): 4, date(2026, 3, 4): 4,
    }


@pytest.mark.parametrize("line", [b"not json\n", b'{"id": "x"}\n'])
def test_an_unreadable_line_is_skipped_not_blocking(make_link, line):
    link = make_link()
    open_visit(link)
    (path,) = (settings.VAR_DIR / "spool" / "clicks").glob("*.jsonl")
    with open(path, "ab") as spool:
        spool.write(line)
    open_visit(link)
    result = links_spool_flush()
    assert (result.clicks, result.stored) == (3, 2)
