"""The what/when/where study: workloads, metrics and the study driver."""
