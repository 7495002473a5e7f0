"""Every compound class a rendered design uses is defined in components/ (so an exported
design runs in Accelergy with the shipped compound components), and every one of them
bottoms out in cim_plugin's own estimator (one source of truth: no generic estimator
of Accelergy prices any part of our designs)."""

from __future__ import annotations

import yaml

from cim_plugin.export.templates import DESIGNS, render_design
from cim_plugin.resources import data_file

# Primitive classes: ours (the library estimate, the per-macro classes) and Accelergy's
# dummy estimator, which gives the inserted inter_*_spatial levels an area of 1
PRIMITIVES = {"cim_plugin_component", "cimmac", "cimstorage", "dummy_storage"}


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


def test_compound_classes_are_served_by_the_library_estimate():
    """Each class has one subcomponent of class cim_plugin_component naming the class
    itself, and each action is that subcomponent's action of the same name."""
    doc = yaml.safe_load(data_file("components", "cim_components.yaml").read_text())
    for c in doc["compound_components"]["classes"]:
        (sub,) = c["subcomponents"]
        assert sub["class"] == "cim_plugin_component", c["name"]
        assert sub["attributes"]["component_class"] == c["name"]
        for action in c["actions"]:
            (ref,) = action["subcomponents"]
            assert ref["name"] == sub["name"]
            assert [a["name"] for a in ref["actions"]] == [action["name"]], (c["name"], action)
