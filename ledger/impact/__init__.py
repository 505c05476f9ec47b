"""Impact accounting per pilot: KPIs with baseline, target and source, computed from the ledger."""
