"""The outbox page: queued, sent and failed messages with their reasons; retrying a failed one."""
import pytest
from django.urls import reverse
from django.utils import translation

from siyu.channels.services import outbox_drain
from siyu.core.models import OutboxMessage, OutboxStatus, Role
from siyu.core.outbox import outbox_enqueue
from tests.conftest import ev


def queue(workspace, key, text, **simulate):
    return outbox_enqueue(
        workspace=workspace, channel="simulator", kind="send_text", target="!g1:example.org",
        payload={"text": text, "mentions": [], **({"simulate": simulate} if simulate else {})}, idempotency_key=key,
    )


@pytest.fixture
def outbox(workspace, ingest):
    ingest([ev("group.joined", 1, actor="ann", group="g1")])  # the target is a known group: its name is shown
    queue(workspace, "ok", "欢迎新朋友")
    queue(workspace, "bad", "会失败的消息", fail="permanent")
    with translation.override("en"):
        outbox_drain()
    queue(workspace, "later", "还在排队")
    return workspace


def test_the_page_shows_each_message_with_its_status_reason_and_group(client, outbox, make_staff):
    client.force_login(make_staff(outbox, role=Role.VIEWER))
    url = reverse("console:outbox", args=[outbox.slug])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("欢迎新朋友", "会失败的消息", "还在排队", "simulated permanent failure", "Group g1"):
        assert text in html
    failed = client.get(url + "?status=failed", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "会失败的消息" in failed and "欢迎新朋友" not in failed
    assert 'data-status="failed"' in failed and "Retry" not in failed  # viewers cannot retry


def test_an_operator_retries_a_failed_message_and_it_goes_out(client, outbox, make_staff):
    client.force_login(make_staff(outbox, role=Role.OPERATOR))
    failed = OutboxMessage.objects.get(idempotency_key="bad")
    OutboxMessage.objects.filter(pk=failed.pk).update(payload={"text": "会失败的消息"})  # the cause was fixed
    response = client.post(reverse("console:outbox_retry", args=[outbox.slug, failed.pk]))
    assert response.status_code == 302 and response.url.endswith("?status=failed")
    outbox_drain()
    failed.refresh_from_db()
    assert failed.status == OutboxStatus.SENT
    # retrying a message that did not fail changes nothing and says so
    response = client.post(reverse("console:outbox_retry", args=[outbox.slug, failed.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "nothing to retry" in response.content.decode()


def test_viewers_cannot_retry_and_other_workspaces_messages_are_not_found(client, outbox, make_staff, make_workspace):
    failed = OutboxMessage.objects.get(idempotency_key="bad")
    client.force_login(make_staff(outbox, role=Role.VIEWER))
    assert client.post(reverse("console:outbox_retry", args=[outbox.slug, failed.pk])).status_code == 403
    other = make_workspace()
    client.force_login(make_staff(other, role=Role.OWNER))
    assert client.post(reverse("console:outbox_retry", args=[other.slug, failed.pk])).status_code == 404
    failed.refresh_from_db()
    assert failed.status == OutboxStatus.FAILED
