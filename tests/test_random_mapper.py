"""The random-mapper emulation (`mapping.random_mapper`) against Timeloop's own mapspace
and termination rules, derived by hand and from timeloop-mapper's printed sizes."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cim_plugin.errors import InvalidMappingError
from cim_plugin.mapping.random_mapper import StdUniform, _Sampler, random_search, split_sizes
from cim_plugin.model.engine import Engine, ModelOptions
from cim_plugin.study.config import load_config
from cim_plugin.study.paper import method_baseline_targets
from cim_plugin.study.runner import Point, setup_point
from tests.test_mapper import _space, specs


def _baseline(m, n, k):
    return setup_point(Point("tensor_core", None, m, n, k, "paper"), load_config(None), "preset",
                       paper_compat=True, extra_targets=method_baseline_targets(m, n, k))


def test_split_cuts_the_space_like_timeloop():
    # Uber::Split: parts of ceil(total/threads), the last (parts*threads - total) one shorter
    assert split_sizes(10, 8) == [2, 2, 1, 1, 1, 1, 1, 1]
    assert split_sizes(3, 8) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert split_sizes(16, 8) == [2] * 8
    # timeloop-mapper on the BERT baseline below, 8 threads: "Per-split Mapping Dimension
    # [IndexFactorization] Size: 194040 Residue: 0"
    assert split_sizes(1552320, 8) == [194040] * 8
    for total in (1, 7, 9, 1000, 1552321):
        assert sum(split_sizes(total, 8)) == total


def test_the_reference_mapspace_has_timeloops_sizes():
    """BERT 512x1024x1024 under the method's constraints. timeloop-mapper (c116d0b) on the
    same input prints IndexFactorization 1552320 and LoopPermutation 1296. By hand: M=2^9
    spreads over DRAM, SMEM and both fan-outs, C(12,3) = 220 ways; N=2^10 has 16 fixed on
    the PE array, 2^6 left over DRAM, SMEM, the subpartition fan-out and LRF (N<=128),
    C(9,3) = 84; K likewise with RF instead of LRF, 84. Orders: four levels with three
    free loops, 6^4."""
    s = _Sampler(_baseline(512, 1024, 1024).space)
    assert [len(o) for o in s.options] == [220, 84, 84]
    assert s.if_size == 1552320
    assert math.prod(len(o) for o in s.orders) == 1296
    assert len(s.bypass) == 1
    # the first dimension is the least significant digit of an ID
    perm = tuple(o[0] for o in s.orders)
    key = next(iter(s.spatial_rows))                   # a spatial assignment that fits
    idx = [[j for j, o in enumerate(opts) if o[s.nt:] == key[di]]
           for di, opts in enumerate(s.options)]
    for pick in ((0, 0, 0), (-1, -1, -1), (0, -1, 0)):
        i0, i1, i2 = (idx[di][p] for di, p in enumerate(pick))
        c = s.construct(i0 + 220 * (i1 + 84 * i2), perm, s.bypass[0])
        assert c is not None
        for di, j in enumerate((i0, i1, i2)):
            assert [c.temporal[i][di] for i in s.space.temporal_levels] == \
                list(s.options[di][j][:s.nt])
    # a factorization whose spatial factors fit no fan-out is no mapping
    bad = [j for j, o in enumerate(s.options[0])
           if all(o[s.nt:] != k[0] for k in s.spatial_rows)]
    assert bad and s.construct(bad[0] + 220 * (idx[1][0] + 84 * idx[2][0]), perm,
                               s.bypass[0]) is None


def test_a_space_smaller_than_the_victory_condition_ends_when_seen():
    """1x1x1: one index factorization (every factor 1), so thread 0 holds it and the
    other seven threads hold nothing; its part holds 1 * 1296 * 1 mappings, all with the
    same EDP. Victory 100: the first is the best, 100 equal ones later the thread stops
    (101 valid). Without a victory condition Timeloop's random search stops after as many
    valid mappings as the part holds: 1296."""
    ps = _baseline(1, 1, 1)
    out = random_search(ps.space, ps.engine, seed=0)
    assert (out.valid, out.invalid) == (101, 0)
    out = random_search(ps.space, ps.engine, seed=0, victory=10**9)
    assert (out.valid, out.invalid) == (1296, 0)


def test_threads_draw_the_same_stream():
    """Every thread starts from the same generator state, as Timeloop's default-seeded
    engines do: with one index factorization per thread's part the threads' draws differ
    only in their ID, so on 1x1x1 with 2 and with 8 threads the one populated thread does
    exactly the same work."""
    ps = _baseline(1, 1, 1)
    a = random_search(ps.space, ps.engine, seed=5, threads=2)
    b = random_search(ps.space, ps.engine, seed=5, threads=8)
    assert (a.valid, a.invalid, a.choice) == (b.valid, b.invalid, b.choice)


def test_the_engine_is_minstd_rand0():
    # the C++ standard ([rand.predef]): the 10000th invocation of a default-constructed
    # minstd_rand0 produces 1043618065
    g = StdUniform(10)
    for _ in range(9999):
        g.raw()
    assert g.raw() == 1043618065


def test_draws_follow_libstdcxx_uniform_int_distribution():
    """By hand from libstdc++'s algorithm: outputs 16807, 282475249, 1622650073 of the
    engine; over [0, 1296) it scales by (2^31 - 3) // 1296 = 1657008, so (x - 1) // 1657008
    gives 0, 170, 979. Over [0, 2^40) it upscales: a draw over [0, 512] (0 from the first
    output) times 2^31 - 2, plus the next output minus 1: 282475248."""
    assert StdUniform(1296).take(3).tolist() == [0, 170, 979]
    assert int(StdUniform(2**40).take(1)[0]) == 282475248
    # arrays equal one draw at a time, across chunk boundaries
    a, b = StdUniform(194040), StdUniform(194040)
    got = np.concatenate([a.take(1000), a.take(5000), a.take(3)]).tolist()
    assert got == [b._one(194039) for _ in range(6003)]


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_draws_equal_the_cxx_library(tmp_path):
    """The same draws from the C++ standard library itself (Timeloop's
    RandomGenerator128: a default-constructed std::default_random_engine read through
    std::uniform_int_distribution<uint64_t>)."""
    src = tmp_path / "d.cpp"
    src.write_text(
        "#include <random>\n#include <cstdio>\n#include <cstdint>\n#include <cstdlib>\n"
        "int main(int c, char** v) { std::default_random_engine e;"
        " std::uniform_int_distribution<std::uint64_t> d(0, std::strtoull(v[1], 0, 10) - 1);"
        " for (int i = 0; i < 2000; i++) std::printf(\"%llu\\n\", (unsigned long long) d(e));"
        " return 0; }\n")
    exe = tmp_path / "d"
    subprocess.run(["g++", "-O1", "-o", str(exe), str(src)], check=True, timeout=120)
    for bound in (1, 16, 1296, 194040, 2**31 - 3, 2**31 - 2, 2**31 + 11, 3**35):
        out = subprocess.run([str(exe), str(bound)], capture_output=True, text=True, check=True)
        want = [int(x) for x in out.stdout.split()]
        assert [int(x) for x in StdUniform(bound).take(2000)] == want, bound


@pytest.mark.parametrize("gemm", [(1, 4096, 4096), (7, 13, 147), (64, 256, 128)])
def test_emulation_never_beats_the_optimum_under_the_same_constraints(gemm):
    from cim_plugin.mapping.search import search

    ps = _baseline(*gemm)
    out = random_search(ps.space, ps.engine, seed=1, threads=4)
    best = search(ps.space, ps.engine, objective="edp", mode="exact")
    assert best.score <= out.score * (1 + 1e-12)
    r = ps.engine.evaluate(ps.space.to_nest(out.choice))
    assert out.score == pytest.approx(r.energy_pJ * r.cycles, rel=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(0, 2**32 - 1))
def test_batch_checks_agree_with_the_model(spec, pick):
    """The sampler rejects draws before the model runs; on random architectures with free
    bypass bits, its fan-out check must agree with constructing the mapping, and its
    capacity check with the model refusing the mapping, for every bypass choice."""
    arch, problem, ert, targets, *_ = spec
    space = _space(arch, problem, targets)
    try:
        s = _Sampler(space)
    except InvalidMappingError:
        return
    engine = Engine(arch, problem, ert, options=ModelOptions(compute_latency_cycles=1.0))
    rng = np.random.default_rng(pick)
    gids = np.arange(s.if_size) if s.if_size <= 300 else rng.integers(s.if_size, size=300)
    spatial_ok, cap_ok = s.check(s.digits(gids))
    perm = tuple(o[0] for o in s.orders)
    for n, g in enumerate(gids):
        for v, keep in enumerate(s.bypass):
            c = s.construct(int(g), perm, keep)
            assert (c is not None) == bool(spatial_ok[n])
            if c is None:
                break
            try:
                engine.evaluate(space.to_nest(c))
                accepted = True
            except InvalidMappingError:
                accepted = False
            assert accepted == bool(cap_ok[n, v])
