"""What every channel adapter provides. Nothing outside channels/ knows a platform's API."""


class AdapterError(Exception):
    """A platform refused or failed an action.

    permanent=True: retrying cannot help (unknown room, no permission); the outbox gives up.
    permanent=False: try again later; `retry_after` (seconds) is the platform's own wait, if it gave one.
    """

    def __init__(self, message, *, permanent, retry_after=None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class UnknownChannel(LookupError):
    pass


class ChannelAdapter:
    """One platform. `name` is the ledger's `source` and the identities' channel; `label` is shown.

    parse(payload) turns one inbound platform payload into raw events for ingest.
    send(message) performs one outbox message (kind, target, payload, idempotency_key) or raises
    AdapterError. Platforms that support it must use the idempotency key so a resend is not a repeat.
    """

    name = ""
    label = ""

    def parse(self, *, workspace, payload):
        raise NotImplementedError

    def send(self, *, message):
        raise NotImplementedError
