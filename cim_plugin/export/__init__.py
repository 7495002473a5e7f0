"""Design templates, sizing and Timeloop-ready export."""
