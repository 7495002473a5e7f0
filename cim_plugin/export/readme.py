"""README.md of an exported design folder: what the files are and the commands that run it.

The commands are the ones a Timeloop user types (timeloopfe's `tl`, raw
`timeloop-model`) and their cim-plugin equivalents; the expected figures are the
embedded model's for the folder's own mapping, so a user can check a run at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim_plugin.export.build import BuiltDesign

MODEL_COMMAND = "tl model model.yaml.jinja2 -o timeloop-model"
MAPPER_COMMAND = "tl mapper top.yaml.jinja2 -o timeloop-mapper"
RAW_COMMAND = ("mkdir -p raw && cd raw && timeloop-model ../map.yaml "
               "../timeloop-model/parsed-processed-input.yaml")


@dataclass(frozen=True)
class Expected:
    """The embedded model's figures for the exported mapping."""

    cycles: int
    energy_uJ: float
    latency_cycles: float
    latency_source: str


def _title(b: BuiltDesign) -> str:
    inst = b.processed["problem"]["instance"]
    gemm = " ".join(f"{d}={inst[d]}" for d in ("M", "N", "K"))
    if b.mapping is None:
        return f"{b.design} (no CiM), GEMM {gemm}"
    p = b.params
    return (f"{b.design} with {p.banks_x}x{p.banks_y} {p.cimtype} macros, GEMM {gemm}")


def readme_text(b: BuiltDesign, expected: Expected, paper_compat: bool, command: str = "") -> str:
    cim = b.mapping is not None
    algorithm = ("the authors' original priority algorithm's mapping (--paper-compat)"
                 if paper_compat else "the priority algorithm's mapping")
    mapping_origin = (f"{algorithm} (constraints.yaml pins the same)" if cim
                      else "cim-plugin's best mapping under constraints.yaml (objective edp)")
    lines = [
        f"# {_title(b)}",
        "",
        (f"Written by `{command}`." if command else "Written by `cim-plugin export`."),
        "",
        "## Files",
        "| file | what it is |",
        "|---|---|",
        "| `arch.yaml` | the architecture (Timeloop v0.4 nodes) |",
        "| `problem.yaml` | the GEMM Z[M,N] = A[M,K]·B[N,K] |",
        "| `constraints.yaml` | the mapper's constraints |",
        "| `mapper.yaml` | timeloop-mapper settings |",
        f"| `map.yaml` | {mapping_origin}, in Timeloop's own form (as timeloop-mapper writes it) |",
        "| `map.v4.yaml` | the same mapping in timeloopfe's v0.4 `mapping:` form |",
        "| `components/` | Accelergy compound components and the cim_plugin estimator entry "
        "(`cim_plugin_accelergy.py`) |",
        "| `top.yaml.jinja2` | timeloopfe top file for timeloop-mapper |",
        "| `model.yaml.jinja2` | timeloopfe top file for timeloop-model (uses `map.v4.yaml`) |",
        "",
        "## Requirements",
        "- Timeloop built with Accelergy (`timeloop-model`, `timeloop-mapper`), Accelergy "
        "(`accelergy` on PATH) and timeloopfe (`tl`).",
        "- The `cim_plugin` package importable by the Python that runs Accelergy: install "
        "cim-plugin into that environment, or add the folder that holds `cim_plugin` to "
        "`PYTHONPATH`. The top files find the estimator entry in `components/` when timeloopfe "
        "renders them (`cwd()`); the folder names no absolute path and can be moved.",
        "",
        "## Run it with Timeloop (through timeloopfe), in this folder",
        "Evaluate the mapping with timeloop-model:",
        "",
        f"    {MODEL_COMMAND}",
        "",
        "Expected (cim-plugin's embedded model, same mapping; Summary Stats of "
        "`timeloop-model/timeloop-model.stats.txt`):",
        f"Cycles: {expected.cycles}, Energy: {expected.energy_uJ:.2f} uJ.",
        "",
        "Search a mapping with timeloop-mapper under `constraints.yaml`:",
        "",
        f"    {MAPPER_COMMAND}",
        "",
        "Raw timeloop-model on the processed input timeloopfe wrote, with `map.yaml` as it is "
        "(`timeloop-mapper/parsed-processed-input.yaml` works too). Give `map.yaml` first: "
        "Timeloop keeps the first value of a repeated top-level key, and the processed input "
        "has its own `mapping` (and, from the mapper, `architecture_constraints`).",
        "",
        f"    {RAW_COMMAND}",
        "",
        "## The same with cim-plugin",
        "    cim-plugin model arch.yaml problem.yaml --mapping map.yaml            "
        "# embedded model, no Timeloop needed",
        "    cim-plugin model arch.yaml problem.yaml --mapping map.yaml --backend timeloop "
        "-o cim-timeloop",
        "    cim-plugin map arch.yaml problem.yaml constraints.yaml -o cim-map      "
        "# cim-plugin's mapper",
        "    cim-plugin ert arch.yaml -o tables                                    "
        "# the ERT/ART Accelergy gives",
        "    cim-plugin compare timeloop-model                                     "
        "# Timeloop's run against the embedded model",
        "",
        "## Model notes",
    ]
    if cim:
        lines += [
            f"- Compute latency: {expected.latency_cycles:g} cycles per macro operation "
            f"({expected.latency_source}). The CiM storage's `read_bandwidth` is its inverse: "
            "each compute element reads its weight once per operation, so Timeloop's cycles are "
            "those of the macro, as cim-plugin's are.",
            ("- CiM area: the WWW placeholder, 1 um^2 per CiM instance (`cim_area: placeholder`, "
             "exported with --paper-compat)." if paper_compat else
             "- CiM area: the real macro area (the CiM storage carries its share of the macro; "
             "the CiM unit and the zero-cost buffers 0)."),
        ]
    else:
        lines += ["- One cycle per MAC, as Timeloop counts."]
    lines += [
        "- Energies and areas: every compound component in `components/` is priced by the "
        "cim_plugin estimator, the same code as `cim-plugin ert`.",
        "",
    ]
    return "\n".join(lines)
