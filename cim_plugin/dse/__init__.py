"""Design-space exploration: sweeps of hypothetical CiM macros and break-even frontiers."""
