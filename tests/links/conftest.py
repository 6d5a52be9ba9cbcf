import pytest

from siyu.links.redirect import cache_clear
from siyu.links.services import link_create


@pytest.fixture(autouse=True)
def links_isolated(settings, tmp_path):
    """Each test gets its own spool directory ($SIYU_VAR_DIR) and a cold redirect cache."""
    settings.VAR_DIR = tmp_path
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def make_link(workspace):
    def make(target_url="https://example.com/landing", **kwargs):
        return link_create(workspace=kwargs.pop("workspace", workspace), target_url=target_url, **kwargs)

    return make


CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "MicroMessenger/8.0.42(0x18002a2b) NetType/WIFI Language/zh_CN"
)
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
TELEGRAM = "TelegramBot (like TwitterBot)"


def open_visit(link, *, query=None, user_agent=CHROME, referer="", remote_addr="203.0.113.7", host="testserver", **kwargs):
    """visit() of a link as a phone would make it."""
    from siyu.links.redirect import visit

    return visit(
        host=host, slug=link.slug if hasattr(link, "slug") else link, query=query or {}, user_agent=user_agent,
        referer=referer, remote_addr=remote_addr, **kwargs,
    )
