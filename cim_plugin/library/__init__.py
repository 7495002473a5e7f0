"""Component library: CiM macros with provenance, baseline tables, ERT/ART generation."""

from cim_plugin.library.ert_gen import generate_tables
from cim_plugin.library.figures import MacroFigures, figures, published_native
from cim_plugin.library.loader import (
    ENV_VAR,
    builtin_library_path,
    get_macro,
    load_macro_file,
    load_macro_library,
)
from cim_plugin.library.macro import Macro, Provenance
from cim_plugin.library.tables import (
    level_area_um2,
    load_baseline_tables,
    macro_area_um2,
    sram_area_um2,
)


def plugin_path() -> str:
    """Absolute path of the Accelergy estimator plug-in file.

    Computed from this package's location rather than by importing the plug-in, which
    imports Accelergy (and makes it print its config search) where Accelergy is installed.
    """
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "accelergy_plugin.py")


__all__ = ["ENV_VAR", "Macro", "MacroFigures", "Provenance", "builtin_library_path", "figures",
           "generate_tables", "get_macro", "level_area_um2", "load_baseline_tables",
           "load_macro_file", "load_macro_library", "macro_area_um2", "plugin_path",
           "published_native", "sram_area_um2"]
