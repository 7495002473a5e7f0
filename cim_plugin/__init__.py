"""cim_plugin: what / when / where to compute-in-memory, on Timeloop/Accelergy terms."""

__version__ = "0.1.0"
