"""Public entry point of the embedded model (filled in by the nest/energy modules)."""
