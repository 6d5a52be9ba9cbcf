"""Signals core sends so that apps above it can follow the ledger without core importing them."""
from django.dispatch import Signal

# Sent inside the ingest transaction after new events were appended: kwargs workspace, source, stored
# (count) and events (the new core.projections.PreparedEvent objects, member_id and group_id resolved,
# in occurrence order). Receivers that act on events (the group bot) enqueue outbox messages here, so
# the reaction commits with the events or not at all.
events_ingested = Signal()

# Sent inside the rebuild transaction after every projection was replayed: kwargs workspace.
ledger_rebuilt = Signal()
