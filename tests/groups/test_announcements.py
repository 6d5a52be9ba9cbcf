from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from siyu.core.db import UTC
from siyu.groups.models import Group, Repeat
from siyu.groups.services import (
    announcement_create, announcement_post_now, announcements_post_due, bot_settings_save,
)
from tests.groups.helpers import outbox, say


@pytest.fixture
def groups(ingest, workspace):
    ingest([say("ann", "hi", group="g1"), say("ann", "hi", group="g2")])
    return list(Group.objects.order_by("external_id"))


def test_set_now_posts_once_and_is_done(workspace, groups):
    announcement = announcement_create(workspace=workspace, group=groups[0], text="今晚 8 点直播")
    [message] = outbox("set_announcement")
    assert (message.target, message.payload) == ("!g1:example.org", {"text": "今晚 8 点直播"})
    assert message.idempotency_key.startswith(f"announce:{announcement.pk}:")
    assert announcement.active is False and announcement.last_posted_at is not None
    assert announcements_post_due() == 0 and len(outbox()) == 1


def test_a_daily_announcement_keeps_its_local_time_and_posts_each_occurrence_once(workspace, groups):
    tz = workspace.tz
    first = datetime.combine(timezone.now().astimezone(tz).date() + timedelta(days=1), time(9), tzinfo=tz)
    announcement = announcement_create(workspace=workspace, group=groups[0], text="早安打卡", at=first, repeat=Repeat.DAILY)
    assert outbox() == [] and announcements_post_due() == 0
    assert announcements_post_due(now=first) == 1
    assert announcements_post_due(now=first) == 0  # a second run of the task in the same minute
    announcement.refresh_from_db()
    assert announcement.next_at == first + timedelta(days=1) and announcement.active
    [message] = outbox("set_announcement")
    assert message.idempotency_key == f"announce:{announcement.pk}:{first.astimezone(UTC).isoformat()}"
    # A worker that was down for three days posts the latest occurrence once, not a burst.
    assert announcements_post_due(now=first + timedelta(days=3, minutes=5)) == 1
    announcement.refresh_from_db()
    assert announcement.next_at == first + timedelta(days=4) and len(outbox()) == 2


def test_weekly_and_every_n_hours(workspace, groups):
    start = timezone.now() + timedelta(minutes=5)
    weekly = announcement_create(workspace=workspace, group=groups[0], text="周报", at=start, repeat=Repeat.WEEKLY)
    hourly = announcement_create(workspace=workspace, group=groups[1], text="提醒", at=start, repeat=Repeat.HOURS, every_hours=6)
    announcements_post_due(now=start)
    weekly.refresh_from_db()
    hourly.refresh_from_db()
    assert weekly.next_at == start + timedelta(days=7)
    assert hourly.next_at == start + timedelta(hours=6)


def test_every_active_group_of_the_channel(workspace, groups):
    groups[1].status = "archived"
    groups[1].save()
    announcement_create(workspace=workspace, channel="simulator", text="全员通知")
    assert [m.target for m in outbox("set_announcement")] == ["!g1:example.org"]


def test_quiet_hours_delay_announcements(workspace, groups):
    local = timezone.now().astimezone(workspace.tz)
    start, end = (local - timedelta(hours=1)).time(), (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    bot_settings_save(workspace=workspace, values={"quiet_start": start, "quiet_end": end})
    announcement_create(workspace=workspace, group=groups[0], text="x")
    due = outbox("set_announcement")[0].due_at.astimezone(workspace.tz)
    assert due.time() == end and due > local


def test_post_now_keeps_the_schedule_and_a_double_click_posts_once(workspace, groups):
    later = timezone.now() + timedelta(hours=2)
    announcement = announcement_create(workspace=workspace, group=groups[0], text="x", at=later, repeat=Repeat.DAILY)
    now = timezone.now()
    announcement_post_now(announcement=announcement, now=now)
    announcement_post_now(announcement=announcement, now=now)
    assert len(outbox("set_announcement")) == 1
    announcement.refresh_from_db()
    assert announcement.next_at == later and announcement.active


def test_the_periodic_task_runs_every_minute():
    from huey.contrib.djhuey import HUEY

    from siyu.groups import tasks

    assert tasks.post_due_announcements.task_class in HUEY._registry._periodic_tasks
