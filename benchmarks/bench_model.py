"""Embedded-model evaluations per second on the tensor-core BERT-Large mapping.

Single process. The architecture, ERT and mapping are the reconstruction of the
WWWtoCiM reference run tensor_core_like/outputs kept in tests/test_model_tensor_core.py,
so this runs without the reference data. Prints one JSON object.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_S = 2000.0


def _case():
    spec = importlib.util.spec_from_file_location(
        "tensor_core_case_module", ROOT / "tests" / "test_model_tensor_core.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.tensor_core_case()


def _rate(fn, min_seconds: float = 1.0) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n / elapsed


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from cim_plugin.model.engine import Engine
    from cim_plugin.model.evaluate import evaluate
    from cim_plugin.model.nest import build_nest

    arch, problem, mapping, ert, art = _case()
    engine = Engine(arch, problem, ert, art)
    nest = build_nest(arch, problem, mapping)
    check = engine.evaluate(nest)
    assert check.cycles == 3295525, check.cycles       # reference stats.txt figure
    with_nest = _rate(lambda: evaluate(arch, problem, mapping, ert, art))
    engine_only = _rate(lambda: engine.evaluate(nest))
    nest_and_engine = _rate(lambda: engine.evaluate(build_nest(arch, problem, mapping)))
    print(json.dumps({
        "benchmark": "model_evaluations_per_second",
        "case": "tensor_core_like BERT-Large GEMM M512 N1024 K1024",
        "evaluate_per_s": round(with_nest, 1),
        "engine_evaluate_per_s": round(engine_only, 1),
        "build_nest_plus_engine_per_s": round(nest_and_engine, 1),
        "target_per_s": TARGET_PER_S,
        "meets_target": min(with_nest, engine_only) >= TARGET_PER_S,
        "python": sys.version.split()[0],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
