"""Signals core sends so that apps above it can follow the ledger without core importing them."""
from django.dispatch import Signal

# Sent inside the ingest transaction after new events were appended: kwargs workspace, stored (count).
events_ingested = Signal()

# Sent inside the rebuild transaction after every projection was replayed: kwargs workspace.
ledger_rebuilt = Signal()
