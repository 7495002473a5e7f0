"""Real Timeloop/Accelergy backends and parsers of their output files."""
