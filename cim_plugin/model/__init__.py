"""The embedded analytical model (Timeloop semantics for dense workloads)."""
