"""Every compound class a rendered design uses is defined in components/ (so an exported
design runs in Accelergy with the shipped compound components)."""

from __future__ import annotations

import yaml

from cim_plugin.export.templates import DESIGNS, render_design
from cim_plugin.resources import data_file

# Accelergy primitive classes (estimated by Accelergy's own plug-ins or ours)
PRIMITIVES = {"DRAM", "SRAM", "regfile", "intadder", "aladdin_adder", "aladdin_multiplier",
              "cimmac", "cimstorage", "dummy_storage"}


def _classes(nodes, out):
    for n in nodes:
        if isinstance(n, dict):
            for key in ("subclass", "class"):
                if n.get(key):
                    out.add(str(n[key]))
                    break
            _classes(n.get("nodes") or [], out)
    return out


def test_every_design_subclass_is_defined():
    doc = yaml.safe_load(data_file("components", "cim_components.yaml").read_text())
    defined = {c["name"] for c in doc["compound_components"]["classes"]}
    for c in doc["compound_components"]["classes"]:
        for sub in c.get("subcomponents") or []:
            assert sub["class"] in defined | PRIMITIVES, (c["name"], sub["class"])
    for design in DESIGNS:
        used = _classes(render_design(design)["architecture"]["nodes"], set())
        generic = {"storage", "compute"}
        missing = used - defined - PRIMITIVES - generic
        assert not missing, (design, missing)
