import pytest
from django.urls import reverse

from siyu.console.rule_forms import BotSettingsForm
from siyu.core.models import OutboxMessage, Role
from siyu.groups.models import BotSettings, Group, KeywordReply, ModerationKind, ModerationRule, Strike
from siyu.members.models import Member
from tests.groups.helpers import say


@pytest.fixture
def group(ingest, workspace):
    ingest([say("ann", "hello")])
    return Group.objects.get()


@pytest.fixture
def struck(ingest, workspace, group):
    ModerationRule.objects.create(workspace=workspace, name="广告链接", kind=ModerationKind.LINKS)
    ingest([say("spam", "https://a.example.com"), say("spam", "https://b.example.com")])
    return Strike.objects.order_by("number")


def login(client, workspace, make_staff, role=Role.OPERATOR):
    user = make_staff(workspace, role=role)
    client.force_login(user)
    return user


def urls(workspace, group):
    slug = workspace.slug
    return {
        "group": reverse("console:group_bot", args=[slug, group.pk]),
        "workspace": reverse("console:bot_rules", args=[slug]),
        "log": reverse("console:moderation", args=[slug]),
    }


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_bot_pages_render(client, workspace, group, struck, make_staff, language):
    login(client, workspace, make_staff, Role.VIEWER)
    reply = KeywordReply.objects.create(workspace=workspace, group=group, pattern="群规", reply="{rules}")
    pages = [*urls(workspace, group).values(), urls(workspace, group)["group"] + f"replies/{reply.pk}/",
             urls(workspace, group)["log"] + f"?group={group.pk}"]
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
    html = client.get(urls(workspace, group)["log"]).content.decode()
    assert "广告链接" in html and "2/2" in html and "1/2" in html and "https://a.example.com" in html
    group_page = client.get(reverse("console:group", args=[workspace.slug, group.pk])).content.decode()
    assert urls(workspace, group)["group"] in group_page


def test_viewers_cannot_change_anything(client, workspace, group, struck, make_staff):
    login(client, workspace, make_staff, Role.VIEWER)
    base = urls(workspace, group)["group"]
    for url in (base, base + "replies/new/", base + "moderation-rules/new/", base + "announcements/new/",
                reverse("console:strike_undo", args=[workspace.slug, struck[0].pk])):
        assert client.post(url, {"welcome_text": "x"}).status_code == 403, url
    assert not BotSettings.objects.exists() and not Strike.objects.filter(undone_at__isnull=False).exists()


def test_saving_on_a_group_page_gives_the_group_its_own_settings(client, workspace, group, make_staff):
    login(client, workspace, make_staff)
    defaults = BotSettingsForm(instance=BotSettings(workspace=workspace))
    data = {f.name: f.value() or "" for f in defaults if f.name not in ("welcome_enabled", "bar_on_removal")}
    data.update(quiet_start="22:00", quiet_end="08:00", strike_limit="3", welcome_enabled="on")
    response = client.post(urls(workspace, group)["group"], data)
    assert response.status_code == 302
    own = BotSettings.objects.get(group=group)
    assert (own.strike_limit, str(own.quiet_start), own.bar_on_removal) == (3, "22:00:00", False)
    assert not BotSettings.objects.filter(group__isnull=True).exists()
    client.post(reverse("console:group_bot_reset", args=[workspace.slug, group.pk]))
    assert not BotSettings.objects.filter(group=group).exists()


def test_settings_errors_are_shown(client, workspace, group, make_staff):
    login(client, workspace, make_staff)
    response = client.post(urls(workspace, group)["workspace"], {
        "welcome_text": "{name} {nmae}", "welcome_window_seconds": "5", "welcome_max_wait_seconds": "60",
        "quiet_start": "22:00", "strike_limit": "2", "strike_days": "30", "warning_text": "x",
        "allowed_domains": "https://example.com/path", "reply_cooldown_seconds": "60",
    }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown variable {nmae}" in html
    assert "is not a domain like example.com" in html
    assert "Give both a start and an end for quiet hours" in html
    assert not BotSettings.objects.exists()


def test_an_invalid_regex_is_rejected_with_its_position(client, workspace, group, make_staff):
    login(client, workspace, make_staff)
    base = urls(workspace, group)["group"]
    response = client.post(base + "replies/new/", {"match": "regex", "pattern": "(群规", "reply": "x", "priority": "1"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "at position 0" in response.content.decode()
    response = client.post(base + "moderation-rules/new/", {"name": "phones", "kind": "regex", "words": r"1[3-9]\d{9}("},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "at position 11" in response.content.decode()
    assert not KeywordReply.objects.exists() and not ModerationRule.objects.exists()
    response = client.post(base + "moderation-rules/new/", {"name": "look", "kind": "regex", "words": r"加(?=微信)"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "cannot run this one: invalid perl operator: (?=" in response.content.decode()
    assert not ModerationRule.objects.exists()
    response = client.post(base + "replies/new/", {"match": "regex", "pattern": "^群规$", "reply": "{rules}", "priority": "1", "enabled": "on"})
    assert response.status_code == 302 and KeywordReply.objects.get().group == group


def test_the_rule_pages_flag_a_stored_pattern_re2_cannot_run(client, workspace, group, make_staff):
    login(client, workspace, make_staff)
    rule = ModerationRule.objects.create(workspace=workspace, name="old", kind=ModerationKind.REGEX, words=r"(?=a)a")
    KeywordReply.objects.create(workspace=workspace, group=group, match="regex", pattern=r"(\w)\1", reply="x")
    for url in (urls(workspace, group)["workspace"], urls(workspace, group)["group"]):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "This pattern never matches until it is changed:" in html and "linear time (RE2)" in html
    html = client.get(urls(workspace, group)["workspace"] + f"moderation-rules/{rule.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "RE2" in html and "never matches" not in html


def test_edit_and_delete_a_rule(client, workspace, group, make_staff, make_workspace):
    login(client, workspace, make_staff)
    rule = ModerationRule.objects.create(workspace=workspace, name="words", kind=ModerationKind.WORDS, words="代购")
    base = urls(workspace, group)["workspace"]
    response = client.post(base + f"moderation-rules/{rule.pk}/", {"name": "words", "kind": "words", "words": "", "enabled": "on"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Give at least one banned word" in response.content.decode()
    client.post(base + f"moderation-rules/{rule.pk}/", {"name": "ads", "kind": "words", "words": "代购\n刷单", "enabled": "on"})
    rule.refresh_from_db()
    assert rule.name == "ads" and rule.word_list == ["代购", "刷单"]
    # A workspace-wide rule is not reachable through a group's page, nor from another workspace.
    assert client.get(urls(workspace, group)["group"] + f"moderation-rules/{rule.pk}/").status_code == 404
    other = make_workspace()
    login(client, other, make_staff)
    assert client.get(reverse("console:bot_rules", args=[workspace.slug])).status_code == 404
    login(client, workspace, make_staff)
    client.post(base + f"moderation-rules/{rule.pk}/delete/")
    assert not ModerationRule.objects.exists()


def test_announcements_from_the_console(client, workspace, group, make_staff):
    login(client, workspace, make_staff)
    base = urls(workspace, group)["group"]
    response = client.post(base + "announcements/new/", {"text": "x", "when": "at", "repeat": "none"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Give the day and time" in response.content.decode()
    response = client.post(base + "announcements/new/", {"text": "x", "when": "now", "repeat": "hours"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "every how many hours" in response.content.decode()
    client.post(base + "announcements/new/", {"text": "今晚 8 点直播", "when": "now", "repeat": "none"})
    assert OutboxMessage.objects.get(kind="set_announcement").payload == {"text": "今晚 8 点直播"}
    response = client.post(urls(workspace, group)["workspace"] + "announcements/new/",
                           {"text": "全员", "when": "at", "at": "2099-01-01T09:00", "repeat": "daily", "channel": "simulator"})
    assert response.status_code == 302
    html = client.get(urls(workspace, group)["workspace"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "every active group on" in html and "2099-01-01 09:00" in html


def test_the_live_preview(client, workspace, group, make_staff):
    login(client, workspace, make_staff, Role.VIEWER)
    url = urls(workspace, group)["group"] + "preview/"
    html = client.get(url, {"welcome_text": "{name} 欢迎来到{group},学号 {number}", "rules_text": "r"}).content.decode()
    assert "@小明 @小红 欢迎来到Group g1,学号 1024、1025" in html
    assert "Unknown variable {x}" in client.get(url, {"welcome_text": "{x}"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_reply_tester_says_which_rule_answers_and_what_it_says_and_stores_nothing(client, workspace, group, make_staff):
    from siyu.core.models import Event
    from siyu.groups.models import ReplyCooldown

    login(client, workspace, make_staff, Role.VIEWER)  # trying changes nothing: every role may
    KeywordReply.objects.create(workspace=workspace, pattern="群规", reply="{name} 请看:{rules}", priority=1)
    KeywordReply.objects.create(workspace=workspace, group=group, pattern="群规", reply="本群群规见公告", mention_asker=True,
                                priority=50)
    KeywordReply.objects.create(workspace=workspace, pattern="打卡", reply="不会答", enabled=False)
    ModerationRule.objects.create(workspace=workspace, name="广告链接", kind=ModerationKind.LINKS)
    events, sent = Event.objects.count(), OutboxMessage.objects.count()

    def tried(url, text):
        return client.get(url + "replies/try/", {"text": text}, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    on_defaults = tried(urls(workspace, group)["workspace"], "请问群规是什么")
    assert "“群规” (Contains, priority 1)" in on_defaults and "workspace-wide" in on_defaults
    assert "@小明 请看:群规:禁止广告刷屏" in on_defaults and "It mentions 小明" in on_defaults
    assert "at most once every 60 s" in on_defaults
    on_group = tried(urls(workspace, group)["group"], "群规")
    assert "this group" in on_group and "@小明 本群群规见公告" in on_group  # the group's own rule first
    assert "No keyword reply answers" in tried(urls(workspace, group)["group"], "打卡")
    moderated = tried(urls(workspace, group)["group"], "群规 https://ads.example.com")
    assert "breaks the moderation rule “广告链接” (on “ads.example.com”)" in moderated and "小明 请看" not in moderated
    assert "Type a message" in tried(urls(workspace, group)["group"], "  ")
    assert "4000" in tried(urls(workspace, group)["group"], "x" * 4001)
    assert (Event.objects.count(), OutboxMessage.objects.count(), ReplyCooldown.objects.count()) == (events, sent, 0)
    zh_page = client.get(urls(workspace, group)["group"] + "replies/try/", {"text": "群规"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "本群" in zh_page.content.decode() and "Answered by" not in zh_page.content.decode()


def test_admins_undo_strikes_and_the_member_page_shows_the_bar(client, workspace, group, struck, make_staff):
    member = Member.objects.get(display_name="Spam")
    member_url = reverse("console:member", args=[workspace.slug, member.number])
    login(client, workspace, make_staff)
    assert "Barred: 广告链接" in client.get(member_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    undo = reverse("console:strike_undo", args=[workspace.slug, struck[1].pk])
    assert client.post(undo).status_code == 403  # operators cannot undo
    login(client, workspace, make_staff, Role.ADMIN)
    response = client.post(undo, {"next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == urls(workspace, group)["log"]
    assert Strike.objects.get(pk=struck[1].pk).undone_at is not None
    assert "Barred: " not in client.get(member_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "undone by" in client.get(urls(workspace, group)["log"], HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_bot_pages_warn_when_no_bot_is_connected(client, workspace, group, make_staff):
    from siyu.channels.matrix.models import MatrixAccount

    login(client, workspace, make_staff, role=Role.ADMIN)
    bot = reverse("console:bot", args=[workspace.slug])
    warning = "No bot is connected to this workspace"
    assert warning in client.get(bot, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "还没有连接机器人" in client.get(bot, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for url in urls(workspace, group).values():
        if url != urls(workspace, group)["log"]:
            assert warning in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), url
    account = MatrixAccount.objects.create(workspace=workspace, homeserver="https://m.example.org", user_id="@bot:m.example.org")
    for url in [bot, urls(workspace, group)["group"], urls(workspace, group)["workspace"]]:
        assert warning not in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode(), url
    account.enabled = False
    account.save()
    assert "The bot is disabled" in client.get(bot, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert warning in client.get(urls(workspace, group)["workspace"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
