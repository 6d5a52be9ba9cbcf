"""The simulator channel: a platform that lives in our own database.

Inbound, it accepts raw events as they are (`{"events": [...]}`). Outbound, its bot records each
action once per idempotency key, the way Matrix dedupes a PUT with the same transaction id. A message's
payload may carry `"simulate": {...}` to make the platform misbehave, for tests and drills:
`{"fail": "temporary", "retry_after": 5}`, `{"fail": "permanent"}`, `{"delay": 3}` (slow before
delivering) or `{"delay_after": 3}` (slow after delivering, before answering). With `"attempts": [1, 2]`
it misbehaves only on those attempts, so a drill can show a retry going through.
`{"rate_limit": {"per_second": 1, "burst": 2}}` gives the message's room a rate limit, as a real
platform's adapter declares one.
"""
import time

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels.base import AdapterError, ChannelAdapter, RateLimit
from siyu.core.kinds import KINDS

from .models import SimulatedDelivery


class SimulatorAdapter(ChannelAdapter):
    name = "simulator"
    kinds = frozenset(KINDS)
    label = gettext_lazy("Simulator")

    def parse(self, *, workspace, payload):
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            raise AdapterError(_('a simulator payload is {"events": [...]}'), permanent=True)
        return events

    def rate_limits(self, *, message):
        limit = (message.payload.get("simulate") or {}).get("rate_limit")
        if not limit:
            return ()
        key = f"simulator:{message.workspace_id}:{message.target}"
        return (RateLimit(key, per_second=float(limit["per_second"]), burst=int(limit["burst"])),)

    def send(self, *, message):
        behaviour = message.payload.get("simulate") or {}
        if "attempts" in behaviour and message.attempts not in behaviour["attempts"]:
            behaviour = {}
        if message.kind not in self.kinds:
            raise AdapterError(_("the simulator cannot %(kind)s") % {"kind": message.kind}, permanent=True)
        if behaviour.get("fail") == "permanent":
            raise AdapterError(_("simulated permanent failure"), permanent=True)
        if behaviour.get("fail") == "temporary":
            raise AdapterError(_("simulated rate limit"), permanent=False, retry_after=behaviour.get("retry_after"))
        time.sleep(float(behaviour.get("delay", 0)))
        self._deliver(message)
        time.sleep(float(behaviour.get("delay_after", 0)))

    @staticmethod
    def _deliver(message):
        try:
            with transaction.atomic():
                SimulatedDelivery.objects.create(
                    workspace_id=message.workspace_id, idempotency_key=message.idempotency_key,
                    kind=message.kind, target=message.target, payload=message.payload,
                )
        except IntegrityError:
            # A resend with the same key: the platform acknowledges it without acting twice.
            SimulatedDelivery.objects.filter(
                workspace_id=message.workspace_id, idempotency_key=message.idempotency_key
            ).update(deliveries_requested=F("deliveries_requested") + 1)
