"""Component library: CiM macros with provenance, baseline tables, ERT/ART generation."""
