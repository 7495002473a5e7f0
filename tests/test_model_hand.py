"""Hand-derived counts on small GEMMs, and properties over random mappings.

The first part is the checked example of docs/timeloop-accelergy.md §7 (GEMM M32 N16
K64 on DRAM / GLB / 4x4 PEs with an RF; timeloop-model reported the same figures).
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InvalidMappingError
from cim_plugin.model.engine import Engine
from cim_plugin.model.evaluate import evaluate
from cim_plugin.model.nest import build_nest
from cim_plugin.spec.arch import architecture_from_processed
from cim_plugin.spec.ert import ert_from_dict
from cim_plugin.spec.mapping import LevelMapping, Mapping
from cim_plugin.spec.problem import gemm_problem


def _arch(glb_extra=None, rf_depth=16, glb_depth=1000):
    glb = {"depth": glb_depth, "width": 64, "datawidth": 8}
    glb.update(glb_extra or {})
    return architecture_from_processed({"subtree": [{"name": "top", "local": [
        {"name": "DRAM", "class": "DRAM", "attributes": {"width": 64, "datawidth": 8}},
        {"name": "GLB", "class": "SRAM", "attributes": glb},
        {"name": "RF[1..16]", "class": "regfile",
         "attributes": {"depth": rf_depth, "width": 8, "datawidth": 8, "meshX": 4, "meshY": 4}},
        {"name": "mac[1..16]", "class": "intmac", "attributes": {"meshX": 4, "meshY": 4}},
    ]}]})


def _ert(glb_read=(20.0, 22.0)):
    def t(name, acts):
        return {"name": f"top.{name}",
                "actions": [{"name": a, "arguments": {"v": i}, "energy": e}
                            for i, (a, e) in enumerate(acts)]}
    return ert_from_dict({"ERT": {"version": "0.4", "tables": [
        t("DRAM", [("read", 512.0), ("write", 512.0), ("update", 512.0), ("leak", 0.0)]),
        # two argument variants of GLB read (20 and 22 pJ): Timeloop uses the larger
        t("GLB", [*(("read", e) for e in glb_read), ("write", 25.0), ("update", 26.0),
                  ("leak", 0.01)]),
        t("RF", [("read", 0.5), ("write", 0.6), ("update", 0.7), ("leak", 0.001)]),
        t("mac", [("mac", 0.3)]),
    ]}}, "hand.ERT")


def _mapping(rf_keep=("Z",), glb_temporal=None, spatial=None, rf_temporal=None):
    # outer -> inner: DRAM[M4 N4] (N innermost), GLB[M2 K8] (K innermost),
    # spatial [M4 on X, N4 on Y], RF[K8]
    levels = {
        "DRAM": LevelMapping("DRAM", temporal={"M": 4, "N": 4}, temporal_permutation=("N", "M")),
        "GLB": LevelMapping("GLB", temporal=glb_temporal or {"M": 2, "K": 8},
                            temporal_permutation=("K", "M", "N"),
                            spatial=spatial or {"M": 4, "N": 4},
                            spatial_permutation=("M", "N", "K"), split=1),
        "RF": LevelMapping("RF", temporal=rf_temporal or {"K": 8},
                           keep=frozenset(rf_keep),
                           bypass=frozenset({"A", "B", "Z"} - set(rf_keep))),
    }
    return Mapping(levels, source="hand.map")


PROBLEM = gemm_problem(32, 16, 64)           # MACs = 32*16*64 = 32768; |Z| = 512


def test_checked_example_counts():
    r = evaluate(_arch(), PROBLEM, _mapping(), _ert())
    glb, rf, dram = r.level("GLB").dataspaces, r.level("RF").dataspaces, r.level("DRAM").dataspaces
    # A (rel M,K) innermost keeper GLB: reads = MACs/(inst 1 * mc) with mc = N4 (irrelevant
    # spatial below) = 32768/4 = 8192. tile_GLB(A) = M(2*4) * K(8*8) = 512; R = loops above
    # GLB from the innermost relevant one (DRAM M4) outward = 4 -> fills = 512*4 = 2048.
    assert (glb["A"].reads, glb["A"].fills) == (8192, 2048)
    # B (rel N,K): mc = M4 -> 8192 reads; tile = N4*K64 = 256, R = DRAM N4*M4 = 16 -> 4096.
    assert (glb["B"].reads, glb["B"].fills) == (8192, 4096)
    # Z at RF (16 instances): updates = 32768/16 = 2048; part = 512/(M4*N4) = 32;
    # reads = 2048 - 32 = 2016. tile_RF = 1, R = DRAM M4 N4 * GLB M2 = 32 -> PAS = 32,
    # fills = 32 - 32 = 0. GLB: updates = PAS * sc(M4*N4) = 512, reads = 512 - part 512 = 0.
    assert (rf["Z"].reads, rf["Z"].fills, rf["Z"].updates) == (2016, 0, 2048)
    assert (glb["Z"].reads, glb["Z"].updates) == (0, 512)
    # DRAM: reads of A/B = GLB fills; Z: tile_GLB = 8*4 = 32, R = 16 -> 512 updates.
    assert (dram["A"].reads, dram["B"].reads, dram["Z"].reads, dram["Z"].updates) == \
        (2048, 4096, 0, 512)
    assert rf["Z"].temporal_reductions == 2016
    # cycles = product of temporal bounds = 4*4*2*8*8 = 2048; utilization 32768/(16*2048) = 1
    assert r.cycles == 2048
    assert r.utilization == pytest.approx(1.0)
    assert r.gflops == pytest.approx((2 * 32768 - 512) / 2048)      # 31.75


def test_checked_example_energy():
    r = evaluate(_arch(), PROBLEM, _mapping(), _ert())
    # MAC 32768*0.3 pJ -> 300 fJ/compute
    # RF: 16 * (2016*0.5 + 2048*0.7) + leak 0.001*2048*16 = 39065.6 + 32.768 = 39098.368 pJ
    # GLB (block 8, read 22): A 1024*22 + 256*25 = 28928; B 1024*22 + 512*25 = 35328;
    #     Z 64*26 = 1664; leak 0.01*2048 = 20.48 -> 65940.48 pJ
    # DRAM (block 8): (256 + 512 + 64) * 512 = 425984 pJ
    expected = {"mac": 300.0, "RF": 39098.368e3 / 32768, "GLB": 65940.48e3 / 32768,
                "DRAM": 13000.0}
    expected["Total"] = 9830.4e3 / 32768 + (39098.368 + 65940.48 + 425984) * 1e3 / 32768
    for name, v in expected.items():
        assert r.fj_per_compute[name] == pytest.approx(v, rel=1e-12), name
    # the doc's rounded figures
    assert round(r.fj_per_compute["RF"], 2) == 1193.19
    assert round(r.fj_per_compute["GLB"], 2) == 2012.34
    assert round(r.fj_per_compute["Total"], 2) == 16505.53


def test_repricing_the_counts_gives_the_checked_example():
    """`recost.reprice` of the engine's counts at the ERT's own prices is the total above
    (MAC 9,830.4 + RF 39,098.368 + GLB 65,940.48 + DRAM 425,984 pJ; 2,048 cycles); an
    ERT that lacks an action the counts need is refused by both in the same words."""
    from cim_plugin.errors import InputError
    from cim_plugin.model.recost import reprice
    from cim_plugin.spec.ert import ERT

    arch, nest = _arch(), build_nest(_arch(), PROBLEM, _mapping())
    engine = Engine(arch, PROBLEM, _ert())
    got = reprice(engine, engine.checked_counts(nest), nest.temporal_product,
                  compute_energy=0.3, latency=1.0)
    assert got.cycles.tolist() == [2048.0]
    assert got.energy_pJ[0] == pytest.approx(9830.4 + 39098.368 + 65940.48 + 425984, rel=1e-12)
    ert = _ert()
    tables = {**ert.tables, "GLB": {"read": 22.0, "leak": 0.01}}      # no write, no update
    engine = Engine(arch, PROBLEM, ERT(tables, source="hand.ERT"))
    with pytest.raises(InputError) as full:
        engine.evaluate(nest)
    with pytest.raises(InputError) as priced:
        reprice(engine, engine.checked_counts(nest), nest.temporal_product,
                compute_energy=0.3, latency=1.0)
    assert str(priced.value) == str(full.value)
    assert "no write/fill action for level GLB, which keeps A" in str(full.value)


def test_read_bandwidth_variant():
    # GLB reads 8192+8192 words over 2048 cycles = 8 words/cycle; read_bandwidth 2 ->
    # throttling 0.25, 8192 cycles; leakage grows 4x with the cycles.
    base = evaluate(_arch(), PROBLEM, _mapping(), _ert())
    r = evaluate(_arch({"read_bandwidth": 2}), PROBLEM, _mapping(), _ert())
    assert r.level("GLB").bandwidth_throttling == pytest.approx(0.25)
    assert r.cycles == 8192
    assert r.level("GLB").leakage_pJ == pytest.approx(4 * base.level("GLB").leakage_pJ)
    assert r.level("RF").leakage_pJ == pytest.approx(4 * base.level("RF").leakage_pJ)


def test_shared_bandwidth_variant():
    # GLB: reads 16384 and fills+updates 2048+4096+512 = 6656 over 2048 cycles = 11.25
    # words/cycle; shared_bandwidth 10 -> ceil(2048 * 11.25 / 10) = 2304 cycles
    r = evaluate(_arch({"shared_bandwidth": 10}), PROBLEM, _mapping(), _ert())
    assert r.cycles == 2304


def test_multiple_buffering_capacity():
    # depth 100 * block 8 = 800 words, halved by multiple_buffering 2 -> 400; the GLB
    # tiles are A 512 + B 256 + Z 32 = 800 words
    with pytest.raises(InvalidMappingError, match="mapped tile size 800 exceeds buffer capacity 400"):
        evaluate(_arch({"multiple_buffering": 2}, glb_depth=100), PROBLEM, _mapping(), _ert())


def test_rf_keeps_operands_spatial_k():
    # RF keeps A and B (not Z) and the spatial fan-out is M4 x K4: the innermost keeper
    # of Z is the GLB, with the K4 spatial loop as reduction: updates = 32768/4 = 8192,
    # reads = 8192 - |Z| 512 = 7680 (doc §7, mapper-found variant)
    m = _mapping(rf_keep=("A", "B"), glb_temporal={"M": 2, "N": 4, "K": 2},
                 spatial={"M": 4, "K": 4}, rf_temporal={"K": 8})
    m.levels["DRAM"].temporal = {"M": 4, "N": 4}
    r = evaluate(_arch(rf_depth=64), PROBLEM, m, _ert())
    z = r.level("GLB").dataspaces["Z"]
    assert (z.updates, z.reads) == (8192, 7680)


# ------------------------------------------------------------------ properties
DIMS = ("M", "N", "K")
SIZES = st.sampled_from([1, 2, 4, 8])


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def cases(draw, sizes=SIZES, dram_first=False):
    """A GEMM and a random valid mapping on DRAM / GLB / 4x4 RF."""
    bounds = {d: draw(sizes) for d in DIMS}
    rest = dict(bounds)
    spatial = {}
    sx = draw(st.sampled_from([d for d in _divisors(rest["M"]) if d <= 4]))
    sy = draw(st.sampled_from([d for d in _divisors(rest["K"]) if d <= 4]))
    spatial = {"M": sx, "K": sy}
    rest["M"] //= sx
    rest["K"] //= sy
    rf, glb, dram = {}, {}, {}
    for d in DIMS:
        if dram_first:                # DRAM takes a factor >= 2 where it can
            c = draw(st.sampled_from(_divisors(rest[d])[1:] or [1]))
            a = draw(st.sampled_from(_divisors(rest[d] // c)))
            rf[d], dram[d], glb[d] = a, c, rest[d] // c // a
            continue
        a = draw(st.sampled_from(_divisors(rest[d])))
        b = draw(st.sampled_from(_divisors(rest[d] // a)))
        rf[d], glb[d], dram[d] = a, b, rest[d] // a // b
    perms = [tuple(draw(st.permutations(DIMS))) for _ in range(3)]
    glb_keep = draw(st.sets(st.sampled_from(("A", "B", "Z"))))
    rf_keep = draw(st.sets(st.sampled_from(("A", "B", "Z"))))
    mapping = Mapping({
        "DRAM": LevelMapping("DRAM", temporal=dram, temporal_permutation=perms[0]),
        "GLB": LevelMapping("GLB", temporal=glb, temporal_permutation=perms[1], spatial=spatial,
                            spatial_permutation=("M", "K", "N"), split=1,
                            keep=frozenset(glb_keep),
                            bypass=frozenset({"A", "B", "Z"} - glb_keep)),
        "RF": LevelMapping("RF", temporal=rf, temporal_permutation=perms[2],
                           keep=frozenset(rf_keep), bypass=frozenset({"A", "B", "Z"} - rf_keep)),
    })
    return gemm_problem(bounds["M"], bounds["N"], bounds["K"]), mapping


ARCH = _arch(rf_depth=4096, glb_depth=100000)
ERT0 = _ert()
FAST = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _eval(problem, mapping, ert=ERT0):
    return evaluate(ARCH, problem, mapping, ert)


@FAST
@given(cases())
def test_data_conservation(case):
    problem, mapping = case
    r = _eval(problem, mapping)
    names = [s.base_name for s in ARCH.storage]            # outermost first
    for ds in problem.data_spaces:
        keepers = [n for n in names if ds.name in r.level(n).dataspaces]
        assert keepers[0] == "DRAM"
        inner = r.level(keepers[-1]).dataspaces[ds.name]
        # multicast/reduction factor below the innermost keeper: irrelevant spatial loops
        # (only the GLB fans out; M and K are spatial)
        below_spatial = keepers[-1] in ("DRAM", "GLB")
        mc = 1
        if below_spatial:
            for d, b in mapping.levels["GLB"].spatial.items():
                if d not in ds.dims:
                    mc *= b
        accesses = inner.updates if ds.read_write else inner.reads
        assert accesses * inner.utilized_instances * mc == problem.macs
        size = problem.size(ds)
        top = r.level("DRAM").dataspaces[ds.name]
        if not ds.read_write:
            assert top.reads >= size
        else:
            assert top.updates >= size
        for name in keepers[1:]:
            s = r.level(name).dataspaces[ds.name]
            if ds.read_write:
                # first-read elision: the first fill of each partition element is skipped
                assert s.fills + s.partition_size >= s.utilized_capacity
            else:
                assert s.fills >= s.utilized_capacity


@FAST
@given(cases(), st.sampled_from(["DRAM", "GLB", "RF", "mac"]), st.floats(0.01, 100.0))
def test_energy_is_monotonic_in_each_ert_value(case, level, delta):
    problem, mapping = case
    base = _eval(problem, mapping).energy_pJ
    for action in ERT0.tables[level]:
        tables = {k: dict(v) for k, v in ERT0.tables.items()}
        tables[level][action] += delta
        bumped = _eval(problem, mapping, dataclasses.replace(ERT0, tables=tables)).energy_pJ
        assert bumped >= base * (1 - 1e-12), (level, action)


def _totals(r):
    return (r.cycles, round(r.energy_pJ, 6),
            tuple((lv.name, ds, s.reads, s.fills, s.updates) for lv in r.levels
                  for ds, s in lv.dataspaces.items()))


@FAST
@given(cases(), st.data())
def test_innermost_level_loop_order_does_not_matter(case, data):
    # Loops of the innermost storage level lie inside every tile boundary: no keeper's
    # reuse R (loops above the keeper) and no tile size depends on their order.
    problem, mapping = case
    perm = tuple(data.draw(st.permutations(DIMS)))
    other = dataclasses.replace(mapping.levels["RF"], temporal_permutation=perm)
    m2 = Mapping({**mapping.levels, "RF": other})
    assert _totals(_eval(problem, mapping)) == _totals(_eval(problem, m2))


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cases(sizes=st.sampled_from([8, 16]), dram_first=True))
def test_swapping_outer_loops_above_every_relevant_loop(case):
    # Swap the two outermost DRAM loops when, for every dataspace kept below DRAM, a loop
    # relevant to it lies further in: both stay inside its reuse product R, so nothing
    # changes.
    problem, mapping = case
    nest = build_nest(ARCH, problem, mapping)
    dram_loops = nest.levels[0].temporal
    assume(len(dram_loops) >= 2)
    for ds in problem.data_spaces:
        for i in (1, 2):
            if ds.name not in nest.levels[i].keep:
                continue
            above = [d for lv in nest.levels[:i] for d, _ in lv.temporal]
            assume(any(d in ds.dims for d in above[2:]))
    # DRAM permutation is innermost first; its loops with bound > 1 are the outermost
    order_outer_first = [d for d, _ in dram_loops]
    swapped = [order_outer_first[1], order_outer_first[0], *order_outer_first[2:]]
    rest = [d for d in DIMS if d not in swapped]
    perm = tuple(reversed(swapped)) + tuple(rest)
    lm = dataclasses.replace(mapping.levels["DRAM"], temporal_permutation=perm)
    m2 = Mapping({**mapping.levels, "DRAM": lm})
    assert [d for d, _ in build_nest(ARCH, problem, m2).levels[0].temporal] == swapped
    assert _totals(_eval(problem, mapping)) == _totals(_eval(problem, m2))


def test_engine_matches_evaluate_over_many_mappings():
    # Engine reuse across mappings gives the same numbers as one-shot evaluate()
    problem = gemm_problem(8, 4, 8)
    engine = Engine(ARCH, problem, ERT0)
    for dram_m, glb_k in itertools.product((1, 2, 4), (1, 2, 4)):
        m = Mapping({"DRAM": LevelMapping("DRAM", temporal={"M": dram_m, "N": 4}),
                     "GLB": LevelMapping("GLB", temporal={"K": glb_k}, spatial={"M": 8 // dram_m}
                                         if 8 // dram_m <= 4 else {}),
                     "RF": LevelMapping("RF", temporal={"K": 8 // glb_k,
                                                        "M": 1 if 8 // dram_m <= 4 else 8 // dram_m})})
        try:
            nest = build_nest(ARCH, problem, m)
        except InvalidMappingError:
            continue
        assert _totals(engine.evaluate(nest)) == _totals(evaluate(ARCH, problem, m, ERT0))
