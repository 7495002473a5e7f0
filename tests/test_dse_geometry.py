"""The sweep's fast geometry path against the full build of the same hypothetical macro.

The cheap path builds a geometry's architecture without the GEMM's mapping and
constraints and reuses what does not depend on the geometry; every figure must still be
the one `build` + `generate_tables` + `priority_mapping` + `Engine.evaluate` give that
macro on its own, and a geometry that cannot be built must fail with the same message.
"""

from __future__ import annotations

import copy
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cim_plugin.dse.cheap import SweepTask, evaluate_chunk, hypothetical_macro, workloads_of
from cim_plugin.library.sweep import chunks, parse_macro_sweep
from cim_plugin.study.workloads import Gemm

EXAMPLES = 200 if os.environ.get("CIM_PLUGIN_THOROUGH") else 15
DESIGNS = ("cim_rf", "cim_smem", "cim_smem_beside", "cim_l2")

geometries = st.fixed_dictionaries({
    "Rp": st.sampled_from([1, 2, 3, 16, 64, 200, 1024]),
    "Cp": st.sampled_from([1, 2, 5, 8, 64]),
    "Rh": st.sampled_from([1, 2, 3, 16]),
    "Ch": st.sampled_from([1, 4, 7, 64]),
    "bits": st.sampled_from([1, 4, 8, 16]),
    "area_factor": st.sampled_from([0.25, 1.0, 3.5, 40.0]),
})
shapes = st.tuples(st.integers(1, 300), st.integers(1, 700), st.integers(1, 700))


def _full(design: str, macro, shape: tuple[int, int, int]):
    """The reference: build the design for this GEMM and evaluate its priority mapping."""
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.latency import compute_latency
    from cim_plugin.library.loader import load_macro_library
    from cim_plugin.model.engine import Engine, ModelOptions
    from cim_plugin.model.nest import build_nest
    from cim_plugin.spec.problem import gemm_problem

    b = build(design, macro, shape, Sizing(mode="iso-area"))
    ert, art = generate_tables(b.architecture, macros={**load_macro_library(), macro.name: macro})
    lat, _ = compute_latency(b.architecture)
    problem = gemm_problem(*shape)
    return Engine(b.architecture, problem, ert, art,
                  ModelOptions(compute_latency_cycles=lat)).evaluate(
        build_nest(b.architecture, problem, b.mapping.mapping()))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(geometry=geometries, design=st.sampled_from(DESIGNS),
       shape_list=st.lists(shapes, min_size=1, max_size=2, unique=True),
       energy=st.sampled_from([0.0, 0.013, 0.7, 3.0]),
       latency=st.sampled_from([1, 3, 17.5]), write=st.sampled_from([0.0, 0.4, 9.0]))
def test_fast_geometry_path_equals_the_full_build(geometry, design, shape_list, energy,
                                                  latency, write):
    raw = {"base": "analog6T", **{k: [v] for k, v in geometry.items()},
           "energy_per_mac_pJ": [energy], "latency_cycles": [latency],
           "write_energy_pJ": [write, write + 1.25]}
    sw = parse_macro_sweep(raw, "s.yaml", ("analog6T",))
    counts = [1 + i for i in range(len(shape_list))]
    wl = workloads_of([Gemm(f"g{i}", *s, count=c, workload="w")
                       for i, (s, c) in enumerate(zip(shape_list, counts))])
    chunk = next(chunks(sw, (design,)))
    got = evaluate_chunk(SweepTask(chunk, sw, wl, "iso-area", (1, 4), False, False))
    # one variant per chunk: priced on floats instead of arrays, the same figures
    single = [evaluate_chunk(SweepTask(c, sw, wl, "iso-area", (1, 4), False, False))
              for c in chunks(sw, (design,), size=1)]
    assert len(single) == sw.costings == 2
    if got["error"] == "":
        for j, one in enumerate(single):
            assert one["energy_pJ"]["w"] == [got["energy_pJ"]["w"][j]]
            assert one["cycles"]["w"] == [got["cycles"]["w"][j]]
    else:
        assert [one["error"] for one in single] == [got["error"]] * 2
    var = sw.costing(0, sw.costings)
    for j in range(sw.costings):
        macro = hypothetical_macro(dict(chunk.structure), var["latency_cycles"][j],
                                   var["energy_per_mac_pJ"][j], var["write_energy_pJ"][j])
        energy_pJ = cycles = 0.0
        area = None
        try:
            for shape in wl.shapes:         # the order the cheap path maps them in
                r = _full(design, macro, shape)
                count = sum(c for s, c in zip(shape_list, counts) if s == shape)
                energy_pJ += count * r.energy_pJ
                cycles += count * r.cycles
                area = r.area_um2 if area is None else area
        except Exception as exc:  # noqa: BLE001 - the per-geometry error is compared
            assert got["error"] == f"{type(exc).__name__}: {exc}"
            event("geometry refused")
            return
        assert got["error"] == ""
        assert got["cycles"]["w"][j] == cycles
        assert got["energy_pJ"]["w"][j] == pytest.approx(energy_pJ, rel=1e-12, abs=1e-9)
        assert got["area_um2"] == area
    event("geometry evaluated")


def test_cim_counts_and_tables_equal_the_full_build():
    """Per shape, the counts, the ERT and the ART of the fast path are those of `build`."""
    from cim_plugin.dse.cheap import _counted, _geometry
    from cim_plugin.export.build import Sizing, build
    from cim_plugin.library.ert_gen import generate_tables
    from cim_plugin.library.loader import load_macro_library
    from cim_plugin.model.engine import Engine, ModelOptions
    from cim_plugin.model.nest import build_nest
    from cim_plugin.spec.problem import gemm_problem

    structure = (("Rp", 32), ("Cp", 8), ("Rh", 2), ("Ch", 7), ("bits", 4), ("area_factor", 1.5))
    macro = hypothetical_macro(dict(structure))
    for design in DESIGNS:
        g = _geometry(design, structure, "iso-area", (1, 4), False, False)
        for shape in ((1, 1, 1), (3, 250, 17), (64, 64, 640)):
            b = build(design, macro, shape, Sizing(mode="iso-area"))
            ert, art = generate_tables(b.architecture,
                                       macros={**load_macro_library(), macro.name: macro})
            assert g.architecture == b.architecture
            # (attributes are left out of the dataclasses' equality)
            assert g.architecture.attributes == b.architecture.attributes
            assert [c.attributes for c in g.architecture.components] == \
                [c.attributes for c in b.architecture.components]
            assert (g.ert, g.art) == (ert, art)
            problem = gemm_problem(*shape)
            nest = build_nest(b.architecture, problem, b.mapping.mapping())
            ref = Engine(b.architecture, problem, ert, art,
                         ModelOptions(compute_latency_cycles=1.0)).evaluate(nest)
            c = _counted(design, structure, shape, "iso-area", (1, 4), False, False)
            # the shared engine's counts, priced by the engine, are the reference's figures
            assert c.engine.cost(copy.deepcopy(c.counts)) == ref
            assert c.area_um2 == ref.area_um2
            assert c.temporal_product == nest.temporal_product
