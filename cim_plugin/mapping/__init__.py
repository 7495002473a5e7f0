"""Mapping: mapspace, search (`cim-plugin map`) and the priority-based CiM algorithm."""
