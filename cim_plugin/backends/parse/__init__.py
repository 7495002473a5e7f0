"""Parsers of Timeloop and Accelergy output files into cim_plugin's result objects."""

from cim_plugin.backends.parse.accelergy import (
    parse_art,
    parse_art_summary,
    parse_ert,
    parse_ert_summary,
    parse_map_yaml,
)
from cim_plugin.backends.parse.maptxt import (
    Loop,
    MapTxt,
    MapTxtLevel,
    parse_map_text,
    parse_map_txt,
)
from cim_plugin.backends.parse.stats import (
    StatsBlock,
    StatsText,
    parse_stats,
    parse_stats_text,
    read_stats_text,
)

__all__ = [
    "Loop",
    "MapTxt",
    "MapTxtLevel",
    "StatsBlock",
    "StatsText",
    "parse_art",
    "parse_art_summary",
    "parse_ert",
    "parse_ert_summary",
    "parse_map_text",
    "parse_map_txt",
    "parse_map_yaml",
    "parse_stats",
    "parse_stats_text",
    "read_stats_text",
]
