"""Mapper: the exact search equals an independent brute force, its bounds never exceed
what a mapping achieves, and the certificate, seeds and objectives behave as documented.

The brute force (tests/mapper_oracle.py) shares no code with cim_plugin.mapping: it
enumerates public `Mapping` objects and evaluates them with `evaluate()`.
"""

from __future__ import annotations

import itertools
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.constraints import parse_constraints
from cim_plugin.mapping.mapspace import MapSpace
from cim_plugin.mapping.padding import pad, padding_for
from cim_plugin.mapping.search import search
from cim_plugin.model.bounds import prefix_bounds
from cim_plugin.model.engine import Engine, ModelOptions
from cim_plugin.model.evaluate import evaluate
from cim_plugin.model.objective import Objective
from cim_plugin.spec.arch import architecture_from_processed
from cim_plugin.spec.ert import ert_from_dict
from cim_plugin.spec.problem import gemm_problem
from tests.mapper_oracle import brute_force

TENSORS = ("A", "B", "Z")
#: random specs per property; CIM_PLUGIN_THOROUGH=1 runs many more (slow)
EXAMPLES = 600 if os.environ.get("CIM_PLUGIN_THOROUGH") else 40


# --------------------------------------------------------------------- random specs
@st.composite
def specs(draw):
    """A random 2-4-level architecture (processed form) with fan-outs, capacities,
    bandwidths and keep constraints, its ERT, and a small GEMM."""
    n = draw(st.integers(2, 4))
    fanouts = [draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 2), (3, 1), (1, 4)]))
               for _ in range(n)]
    if math.prod(fx * fy for fx, fy in fanouts) > 8:
        fanouts = [(1, 1)] * (n - 1) + [fanouts[-1]]
    locals_, tables = [], []
    mx = my = 1
    keep_fixed: dict[str, frozenset[str]] = {}
    keep_free: dict[str, tuple[str, ...]] = {}
    targets = []
    bounds: dict[str, dict[str, tuple[str, int]]] = {}
    dummy_at = draw(st.sampled_from([None, None, *range(1, n)]))
    for i in range(n):
        name = "DRAM" if i == 0 else f"L{i}"
        attrs: dict = {"datawidth": 8, "width": 8, "meshX": mx, "meshY": my}
        if i == dummy_at:
            # a level that keeps nothing, like Timeloop's inter_*_spatial levels
            keep_fixed[name], keep_free[name] = frozenset(), ()
            inst = mx * my
            locals_.append({"name": name if inst == 1 else f"{name}[1..{inst}]",
                            "class": "dummy_storage", "attributes": {"meshX": mx, "meshY": my}})
            fx, fy = fanouts[i]
            mx, my = mx * fx, my * fy
            continue
        if i > 0 and draw(st.integers(0, 3)) == 0:
            d, op, v = draw(st.sampled_from("MNK")), draw(st.sampled_from(["=", "<="])), \
                draw(st.sampled_from([1, 2, 3]))
            bounds[name] = {d: (op, v)}
            targets.append({"target": name, "type": "temporal", "factors": f"{d}{op}{v}"})
        if i > 0:
            depth = draw(st.sampled_from([1, 2, 3, 4, 6, 8, 16, 64, 1024]))
            attrs["depth"] = depth
            if draw(st.booleans()):
                attrs["read_bandwidth"] = draw(st.sampled_from([1, 2, 4]))
            roles = {t: draw(st.sampled_from(["keep", "bypass", "free"])) for t in TENSORS}
            keep = frozenset(t for t, r in roles.items() if r == "keep")
            byp = [t for t, r in roles.items() if r == "bypass"]
            free = tuple(sorted(t for t, r in roles.items() if r == "free"))
            if len(free) > 1:              # keep the brute force small
                keep = keep | frozenset(free[1:])
                free = free[:1]
            keep_fixed[name], keep_free[name] = keep, free
            targets.append({"target": name, "type": "bypass", "keep": sorted(keep), "bypass": byp})
        else:
            attrs["read_bandwidth"] = draw(st.sampled_from([2, 4, 8, 64]))
            keep_fixed[name], keep_free[name] = frozenset(TENSORS), ()
        inst = mx * my
        locals_.append({"name": name if inst == 1 else f"{name}[1..{inst}]",
                        "class": "DRAM" if i == 0 else "regfile", "attributes": attrs})
        fx, fy = fanouts[i]
        mx, my = mx * fx, my * fy
        e = draw(st.sampled_from([0.5, 1.0, 3.0, 10.0, 40.0])) * (20 if i == 0 else 1)
        tables.append({"name": f"sys.{locals_[-1]['name']}", "actions": [
            {"name": "read", "energy": e}, {"name": "write", "energy": e * 1.1},
            {"name": "update", "energy": e * 1.2},
            {"name": "leak", "energy": draw(st.sampled_from([0.0, 0.0, 0.01]))}]})
    inst = mx * my
    locals_.append({"name": "mac" if inst == 1 else f"mac[1..{inst}]", "class": "intmac",
                    "attributes": {"meshX": mx, "meshY": my}})
    tables.append({"name": f"sys.{locals_[-1]['name']}", "actions": [
        {"name": "compute", "energy": 0.3}]})
    arch = architecture_from_processed({"subtree": [{"name": "sys", "local": locals_}]})
    dims = draw(st.lists(st.sampled_from([1, 2, 3, 4, 6]), min_size=3, max_size=3))
    if math.prod(dims) > 48:
        dims = [min(dims), 2, 3]
    problem = gemm_problem(*dims)
    return (arch, problem, ert_from_dict({"ERT": {"tables": tables}}), targets, keep_fixed,
            keep_free, bounds)


def _space(arch, problem, targets):
    return MapSpace(arch, problem, parse_constraints(targets, arch, problem))


# --------------------------------------------------------------------- exactness
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from(["edp", "energy", "delay"]))
def test_exact_search_equals_brute_force(spec, objective):
    arch, problem, ert, targets, keep_fixed, keep_free, bounds = spec
    # pinned factors that do not divide a dimension pad it to their next multiple, and
    # the padded problem is counted with the real problem's computes (Timeloop's rule)
    padded = dict(problem.bounds)
    for d in padded:
        pinned = math.prod(v for b in bounds.values() for e, (op, v) in b.items()
                           if e == d and op == "=" and v <= problem.bounds[d])
        padded[d] = math.ceil(padded[d] / pinned) * pinned
    options = None
    if padded != problem.bounds:
        options = ModelOptions(actual_computes=problem.macs,
                               actual_rw_size=problem.bounds["M"] * problem.bounds["N"])
    truth = brute_force(arch, gemm_problem(padded["M"], padded["N"], padded["K"]), ert,
                        keep_fixed=keep_fixed, keep_free=keep_free, objective=objective,
                        temporal_bounds=bounds, options=options)
    space = _space(arch, problem, targets)
    engine = Engine(arch, problem, ert)
    if truth is None:
        with pytest.raises(InvalidMappingError):
            search(space, engine, objective=objective, mode="exact")
        return
    sr = search(space, engine, objective=objective, mode="exact")
    assert sr.optimal
    assert sr.score == pytest.approx(truth[0], rel=1e-9)
    # the answer is a valid mapping of the public model with the same numbers
    if options is None:
        r = evaluate(arch, problem, sr.mapping, ert)
        assert Objective(objective).of(r) == pytest.approx(sr.score, rel=1e-12)
    assert sr.lower_bound == pytest.approx(sr.score, rel=1e-9)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.sampled_from(["edp", "energy", "delay"]), st.randoms(use_true_random=False))
def test_bounds_never_exceed_what_a_mapping_achieves(spec, objective, rnd):
    """The bound at the placement and at every boundary of a complete mapping is at most
    that mapping's objective (so no optimum is ever pruned)."""
    arch, problem, ert, targets, keep_fixed, keep_free, _ = spec
    space = _space(arch, problem, targets)
    engine = Engine(arch, problem, ert)
    padding = padding_for(space)
    if padding is not None:
        space, engine = pad(space, engine, padding)
        problem = space.problem
    obj = Objective(objective)
    sr_list = []
    try:
        sr_list.append(search(space, engine, objective=objective, mode="exact").choice)
    except InvalidMappingError:
        return
    # random other mappings of the space: every keep, spatial and order choice tried
    table = space.spatial_table()
    for _ in range(20):
        keep = rnd.choice(space.keep_choices())
        sp = table.get(rnd.randrange(len(table)))
        temporal = [[1] * 3 for _ in range(space.n_levels)]
        for di, d in enumerate(space.dims):
            rest = problem.bounds[d] // math.prod(sp.factors[i][di] for i in range(space.n_levels))
            for level in space.temporal_levels[:-1]:
                f = rnd.choice([x for x in range(1, rest + 1) if rest % x == 0])
                temporal[level][di] = f
                rest //= f
            temporal[space.temporal_levels[-1]][di] = rest
        perm = tuple(rnd.choice(space.orders(i)) for i in range(space.n_levels))
        from cim_plugin.mapping.mapspace import Choice

        sr_list.append(Choice(keep, sp, tuple(tuple(t) for t in temporal), perm))
    for choice in sr_list:
        try:
            r = engine.evaluate(space.to_nest(choice))
        except InvalidMappingError:
            continue
        score = obj.of(r)
        for b in prefix_bounds(space, engine, obj, choice):
            assert b <= score * (1 + 1e-9)


# --------------------------------------------------------------------- hand-made specs
ARCH = {"subtree": [{"name": "sys", "attributes": {"technology": "45nm"}, "local": [
    {"name": "DRAM", "class": "DRAM", "attributes": {"width": 64, "datawidth": 8}},
    {"name": "GLB", "class": "SRAM", "attributes": {"depth": 64, "width": 8, "datawidth": 8,
                                                     "read_bandwidth": 4}},
    {"name": "RF[1..4]", "class": "regfile", "attributes": {"depth": 6, "width": 8, "datawidth": 8,
                                                           "meshX": 2, "meshY": 2}},
    {"name": "mac[1..4]", "class": "intmac", "attributes": {"meshX": 2, "meshY": 2}},
]}]}
ERT = {"ERT": {"tables": [
    {"name": "sys.DRAM", "actions": [{"name": "read", "energy": 200.0},
                                     {"name": "write", "energy": 200.0},
                                     {"name": "update", "energy": 200.0}]},
    {"name": "sys.GLB", "actions": [{"name": "read", "energy": 6.0}, {"name": "write", "energy": 7.0},
                                    {"name": "update", "energy": 7.0}, {"name": "leak", "energy": 0.01}]},
    {"name": "sys.RF[1..4]", "actions": [{"name": "read", "energy": 0.5}, {"name": "write", "energy": 0.6},
                                         {"name": "update", "energy": 0.6}]},
    {"name": "sys.mac[1..4]", "actions": [{"name": "compute", "energy": 0.3}]},
]}}


def _setup(m=4, n=2, k=4, targets=None):
    arch = architecture_from_processed(ARCH)
    problem = gemm_problem(m, n, k)
    ert = ert_from_dict(ERT)
    return arch, problem, ert, _space(arch, problem, targets or [])


def test_constraints_are_honoured_and_infeasible_constraints_are_named():
    targets = [{"target": "RF", "type": "temporal", "factors": "M=1,N=1"},
               {"target": "GLB", "type": "spatial", "factors": "K=2,M=2", "permutation": "KMN",
                "split": 1}]
    arch, problem, ert, space = _setup(targets=targets)
    sr = search(space, Engine(arch, problem, ert), mode="exact")
    glb = sr.mapping.levels["GLB"]
    assert glb.spatial["K"] == 2 and glb.spatial["M"] == 2
    assert sr.mapping.levels["RF"].temporal["M"] == 1
    # RF keeps A and must hold M=4 x K=4 of it: 16 words in a 6-word RF
    targets = [{"target": "RF", "type": "temporal", "factors": "M=4,K=4"},
               {"target": "RF", "type": "bypass", "keep": ["A"]}]
    arch, problem, ert, space = _setup(targets=targets)
    with pytest.raises(InvalidMappingError, match="mapping"):
        search(space, Engine(arch, problem, ert), mode="exact")


def test_padded_factorization_counts_like_timeloop():
    """K=7 (prime) with a spatial K=2 pinned on the array's X axis: no perfect factorization.

    Derivation. Padding K to the next multiple of the pinned 2 gives K=8 (warning: +14.3 %).
    With M=N=1 the remaining K=4 loops temporally at DRAM, GLB or RF: 8 padded MACs on 2
    units in 4 steps, so the compute takes 4 cycles. Timeloop counts the real computes:
    7 (GEMM 1x1x7), compute energy 7 x 0.3 pJ, utilization 7 / (4 units x cycles),
    GFLOPs (2x7 - |Z|=1) / cycles. The mapping's K factors multiply to 8, as
    timeloop-mapper writes them (K2 x K4).
    """
    targets = [{"target": "GLB", "type": "spatial", "factors": "K=2", "permutation": "KMN",
                "split": 1}]
    arch, problem, ert, space = _setup(1, 1, 7, targets)
    sr = search(space, Engine(arch, problem, ert), mode="exact")
    assert sr.padding is not None and sr.padding.dims == (("K", 7, 8),)
    assert any("K=7 padded to 8 (+14.3 % iterations)" in w for w in sr.result.warnings)
    r = sr.result
    assert r.computes == 7
    assert r.compute.energy_pJ == pytest.approx(7 * 0.3)
    factors = [lm.temporal.get("K", 1) * lm.spatial.get("K", 1) for lm in sr.mapping.levels.values()]
    assert math.prod(factors) == 8
    assert sr.mapping.levels["GLB"].spatial["K"] == 2
    assert r.compute.cycles == 4
    assert r.utilization == pytest.approx(7 / (4 * r.cycles))
    assert r.gflops == pytest.approx((2 * 7 - 1) / r.cycles)


def test_search_is_deterministic_and_independent_of_string_hashing(tmp_path):
    import os
    import subprocess
    import sys

    import yaml

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "architecture": ARCH,
        "problem": {"shape": {"name": "gemm", "dimensions": ["M", "N", "K"], "data_spaces": [
            {"name": "A", "projection": [[["M"]], [["K"]]]},
            {"name": "B", "projection": [[["N"]], [["K"]]]},
            {"name": "Z", "projection": [[["M"]], [["N"]]], "read_write": True}]},
            "instance": {"M": 8, "N": 4, "K": 8}},
        **ERT}))
    outs = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"o{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-m", "cim_plugin", "map", str(spec), "-o", str(out)],
                       check=True, capture_output=True, env=env)
        outs.append((out / "map.yaml").read_bytes())
    assert outs[0] == outs[1] == outs[2]


@pytest.mark.parametrize("extra, field", [(["--timeout", "-1"], "--timeout"),
                                          (["--energy-weight", "nan"], "--energy-weight"),
                                          (["--compute-latency", "0"], "--compute-latency")])
def test_map_rejects_bad_numbers_before_any_work(tmp_path, capsys, extra, field):
    from cim_plugin.cli import main

    out = tmp_path / "o"
    assert main(["map", str(tmp_path / "missing.yaml"), "-o", str(out), *extra]) == 2
    assert field in capsys.readouterr().err
    assert not out.exists()


def test_map_json_naming_a_folder_is_refused_first(tmp_path, capsys):
    from cim_plugin.cli import main

    out = tmp_path / "o"
    assert main(["map", str(tmp_path / "missing.yaml"), "-o", str(out), "--json", str(tmp_path)]) == 2
    assert "--json" in capsys.readouterr().err
    assert not out.exists()


def test_all_orders_and_keeps_are_reachable():
    """`distinct_orders` keeps, for every set of loops with a bound above 1, one order per
    distinct reuse: checked against all 6 orders of a GEMM level."""
    arch, problem, ert, space = _setup()
    rels = [frozenset("MK"), frozenset("NK"), frozenset("MN")]

    def sig(order, nonunit):
        loops = [d for d in order if d in nonunit]
        out = []
        for rel in rels:
            run = []
            for d in reversed(loops):
                if d in rel:
                    break
                run.append(d)
            out.append((frozenset(run), len(run) == len(loops)))
        return tuple(out)

    kept = space.distinct_orders(1)
    assert len(kept) == 3
    for r in range(1, 4):
        for nonunit in itertools.combinations("MNK", r):
            everything = {sig(o, nonunit) for o in itertools.permutations("MNK")}
            assert everything == {sig(o, nonunit) for o in kept}


def test_latency_is_applied_by_map_like_model(tmp_path):
    """`map` and `model` apply the same compute latency: cycles of the mapped design
    point are the same from both commands."""
    import json

    from cim_plugin.cli import main

    d = tmp_path / "ex"
    assert main(["export", "--design", "cim_rf", "--macro", "analog6T", "--gemm", "64,64,64",
                 "--preset", "method", "-o", str(d)]) == 0
    specs = [str(d / "arch.yaml"), str(d / "problem.yaml"), str(d / "constraints.yaml")]
    assert main(["map", *specs, "-o", str(tmp_path / "m"), "--json", str(tmp_path / "m.json")]) == 0
    assert main(["model", *specs, "--mapping", str(tmp_path / "m" / "map.yaml"),
                 "--json", str(tmp_path / "r.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    r = json.loads((tmp_path / "r.json").read_text())
    assert m["cycles"] == r["cycles"]
    assert m["compute_latency_cycles"] == r["compute_latency_cycles"] == 9.0   # analog6T
    assert m["energy_pJ"] == pytest.approx(r["energy_pJ"], rel=1e-12)
    assert m["mapper"]["optimal"] is True and m["mapper"]["gap"] == 0.0


def test_engine_options_latency_changes_cycles_not_counts():
    arch, problem, ert, space = _setup()
    sr = search(space, Engine(arch, problem, ert, options=ModelOptions(compute_latency_cycles=3)),
                mode="exact")
    assert sr.result.compute_latency_cycles == 3


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(1, 30))
def test_a_stopped_search_certifies_a_bound_below_the_optimum(spec, budget):
    """Stopped by its node budget, the search still reports a lower bound that no
    mapping beats: lower bound <= optimum <= its best mapping."""
    from cim_plugin.mapping.exact import BranchAndBound

    space, engine, obj, exact = _solved(spec)
    if exact.best is None:
        return
    stopped = BranchAndBound(space, engine, obj, max_nodes=budget).run()
    _check_certificate(stopped, exact)


def _solved(spec):
    """The (padded) mapspace of a random spec, its engine, the EDP objective and the
    unbudgeted exact search's outcome."""
    from cim_plugin.mapping.exact import BranchAndBound

    arch, problem, ert, targets, *_ = spec
    space = _space(arch, problem, targets)
    padding = padding_for(space)
    engine = Engine(arch, problem, ert)
    if padding is not None:
        space, engine = pad(space, engine, padding)
    obj = Objective("edp")
    return space, engine, obj, BranchAndBound(space, engine, obj).run()


def _check_certificate(stopped, exact):
    """lower bound <= optimum <= its best mapping; complete means optimal."""
    assert stopped.lower_bound <= exact.best[0] * (1 + 1e-9)
    if stopped.best is not None:
        assert exact.best[0] <= stopped.best[0] * (1 + 1e-9)
        if stopped.complete:
            assert stopped.best[0] == pytest.approx(exact.best[0], rel=1e-9)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(1, 30), st.integers(1, 6), st.integers(1, 4))
def test_placements_cut_short_keep_the_certificate(spec, budget, per_placement, placements):
    """A run that leaves placements after a few nodes each, or stops after a few
    placements (the probe of `probed_search`), records their bounds: its lower bound
    never exceeds the optimum, and when it claims completeness it has the optimum. The
    probed search, budgeted or not, keeps both properties."""
    from cim_plugin.mapping.exact import BranchAndBound, probed_search

    space, engine, obj, exact = _solved(spec)
    if exact.best is None:
        return
    runs = [BranchAndBound(space, engine, obj, placement_nodes=per_placement,
                           max_placements=placements).run(),
            probed_search(space, engine, obj, None, None, max_nodes=budget),
            probed_search(space, engine, obj, None, None)]
    for out in runs:
        _check_certificate(out, exact)
    assert runs[2].complete


def test_time_budget_is_honoured_under_huge_dimensions(tmp_path):
    """Dimensions with thousands of divisors (2095133040 has 1600, 735134400 has 1344),
    within the input limits: with --timeout the search stops at its budget (here long
    before the 60 s guard) and answers with exit 0 (a mapping and its certificate) or
    exit 2 and one line, never a hang or a traceback."""
    import subprocess
    import sys

    import yaml

    from cim_plugin.export.build import build

    b = build("tensor_core", None, (64, 64, 64))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "architecture": b.processed["architecture"],
        "architecture_constraints": b.processed["architecture_constraints"],
        "problem": {**b.processed["problem"],
                    "instance": {"M": 2095133040, "N": 735134400, "K": 2}}}))
    proc = subprocess.run([sys.executable, "-m", "cim_plugin", "map", str(spec), "-o",
                           str(tmp_path / "o"), "--timeout", "2"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "--timeout" in proc.stderr


@pytest.mark.parametrize("damage, words", [
    ("factors", "multiply to 32"),          # M factors multiply to 32 for M=64
    ("keep", "Q"),                          # a tensor the problem does not have
])
def test_an_invalid_seed_is_refused_like_model_refuses_it(tmp_path, capsys, damage, words):
    """A seed passes the same validation as `model`: exit 2, one line naming the seed."""
    import yaml

    from cim_plugin.cli import main

    d = tmp_path / "ex"
    assert main(["export", "--design", "tensor_core", "--gemm", "64,64,64", "-o", str(d)]) == 0
    entries = yaml.safe_load((d / "map.yaml").read_text())["mapping"]
    for e in entries:
        # halve every M factor above 1 once: the M factors then multiply to 32
        if damage == "factors" and e["type"] in ("temporal", "spatial") and "M1 " not in e["factors"]:
            m = next(f for f in e["factors"].split() if f.startswith("M"))
            e["factors"] = e["factors"].replace(m, f"M{int(m[1:]) // 2}")
            damage = "done"
        if damage == "keep" and e["type"] == "datatype" and e["target"] == "SMEM":
            e["keep"] = ["A", "Q"]
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"mapping": entries}))
    capsys.readouterr()
    out = tmp_path / "o"
    code = main(["map", str(d / "arch.yaml"), str(d / "problem.yaml"), str(d / "constraints.yaml"),
                 "--seed-mapping", str(seed), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and str(seed) in err and words in err
    assert not out.exists()
