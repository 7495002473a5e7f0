"""ERT/ART generation: reference runs, self-contained figures, scaling rules, CLI."""

from __future__ import annotations

import copy

import pytest
import yaml

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.library import generate_tables, level_area_um2
from cim_plugin.library.loader import clear_cache
from cim_plugin.spec.arch import load_architecture
from cim_plugin.spec.ert import load_art, load_ert
from cim_plugin.spec.yamlio import load_yaml


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("CIM_PLUGIN_LIBRARY", raising=False)
    clear_cache()


# ------------------------------------------------------------------ reference runs

def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 * abs(b) + 1e-12


def test_reference_run_tables_reproduced(reference_run):
    """The WWW runs' ERT/ART (their CiM areas are WWW's 1 um^2 placeholder: --paper-compat)."""
    doc = load_yaml(reference_run / "parsed-processed-input.yaml")
    ert, art = generate_tables(load_architecture(doc), paper_compat=True)
    ref = load_ert(reference_run / "timeloop-mapper.ERT.yaml")
    ref_art = load_art(reference_run / "timeloop-mapper.ART.yaml")
    used = ("read", "write", "update", "leak", "compute", "mac")
    for level, table in ref.tables.items():
        assert ert.full_names[level] == ref.full_names[level]
        for action, energy in table.items():
            if action in used:
                assert _close(ert.tables[level][action], energy), (level, action)
        # same action names and argument structure
        assert [a.name for a in ert.actions[level]] == [a.name for a in ref.actions[level]] or \
            sorted(a.name for a in ert.actions[level]) == sorted(a.name for a in ref.actions[level])
        assert {a.name: sorted(a.arguments) for a in ert.actions[level]} == \
            {a.name: sorted(a.arguments) for a in ref.actions[level]}
    assert set(ert.tables) == set(ref.tables)
    assert set(art.areas) == set(ref_art.areas)
    for level, area in ref_art.areas.items():
        assert _close(art.areas[level], area), level


def test_cli_ert_on_reference_run(reference_run, tmp_path):
    spec = reference_run / "parsed-processed-input.yaml"
    assert main(["ert", str(spec), "--paper-compat", "-o", str(tmp_path)]) == 0
    ert = load_ert(tmp_path / "ERT.yaml")
    ref = load_ert(reference_run / "timeloop-mapper.ERT.yaml")
    for level, table in ref.tables.items():
        for action, energy in table.items():
            assert _close(ert.tables[level][action], energy), (level, action)
    assert not list(tmp_path.glob(".*.tmp"))          # atomic writes leave no temp files
    ref_art = load_art(reference_run / "timeloop-mapper.ART.yaml")
    assert load_art(tmp_path / "ART.yaml").areas == pytest.approx(ref_art.areas, rel=1e-3)


# ------------------------------------------------------------------ self-contained

def _leaf(name, cls, attrs, subclass=None):
    d = {"name": name, "class": cls, "attributes": dict(attrs)}
    if subclass:
        d["subclass"] = subclass
    return d


def _arch(cim_type="analog6T", selector="type"):
    """A WWW-style RF-level CiM architecture (processed form), 4 banks of Rp*Cp = 256."""
    top = {"technology": "45nm", "global_cycle_seconds": 1e-9}
    mesh = {"meshX": 4, "meshY": 256}
    local = [
        _leaf("DRAM[1..1]", "DRAM", {"type": "LPDDR4", "width": 64, "datawidth": 8}),
        _leaf("SMEM[1..1]", "storage", {"depth": 8192, "width": 256, "datawidth": 8,
                                        "metadata_storage_depth": 8192,
                                        "metadata_storage_width": 64}, "smartbuffer_metadata"),
        _leaf("inter_CiMArray_spatial[1..4]", "dummy_storage",
              {"width": 1, "depth": 1, "datawidth": 1, "meshX": 1, "meshY": 4}),
        _leaf("CiMInpBuffer[1..1024]", "storage",
              {"datawidth": 8, "width": 8, "depth": 1, "type": "zero", **mesh}, "custom_storage"),
        _leaf("CiMStorage[1..1024]", "storage",
              {"datawidth": 8, "width": 128, "depth": 1, selector: cim_type, **mesh},
              "custom_storage"),
        _leaf("CiMUnit[1..1024]", "compute", {"datawidth": 8, selector: cim_type, **mesh},
              "cimmac_unit"),
    ]
    return {"architecture": {"version": "0.4", "subtree": [
        {"name": "system_top_level", "attributes": top, "local": local}]}}


def test_self_contained_www_figures():
    ert, art = generate_tables(load_architecture(_arch()), paper_compat=True)
    # WWWtoCiM reference run rf_compute_analog6T/outputs, timeloop-mapper.ERT.yaml / ART.yaml:
    assert ert.tables["DRAM"] == {"read": 512.0, "write": 512.0, "update": 512.0, "leak": 0.0}
    assert ert.tables["SMEM"]["read"] == pytest.approx(124.695312)
    assert ert.tables["SMEM"]["write"] == pytest.approx(118.033)
    assert ert.tables["SMEM"]["leak"] == pytest.approx(0.007902)
    assert ert.tables["CiMStorage"] == {"read": 0.0, "write": 1.9, "update": 1.9, "leak": 0.0}
    assert ert.tables["CiMInpBuffer"] == {"read": 0.0, "write": 0.0, "update": 0.0, "leak": 0.0}
    assert ert.tables["CiMUnit"] == {"compute": 0.15}
    assert "inter_CiMArray_spatial" not in ert.tables
    assert art.areas == {"DRAM": 0.0, "SMEM": 1068811.0, "inter_CiMArray_spatial": 1.0,
                         "CiMInpBuffer": 1.0, "CiMStorage": 1.0, "CiMUnit": 1.0}
    assert ert.full_names["CiMUnit"] == "system_top_level.CiMUnit[1..1024]"
    dram_args = ert.actions["DRAM"][0].arguments
    assert dram_args == {"global_cycle_seconds": 1e-9, "action_latency_cycles": 1}


def test_real_cim_area_by_default():
    """Without --paper-compat every CiM component has its real area: the storage its share
    of the macro (1.34 x 0.407719 um^2/b x 32768 b = 17902.58 um^2 per analog6T macro, 128 of
    its bits per instance -> 69.932 um^2), the unit and the zero-cost buffers 0."""
    ert, art = generate_tables(load_architecture(_arch()))
    assert art.areas["CiMStorage"] == pytest.approx(69.932, rel=1e-4)
    assert art.areas["CiMUnit"] == 0.0 and art.areas["CiMInpBuffer"] == 0.0
    assert art.areas["inter_CiMArray_spatial"] == 1.0 and art.areas["SMEM"] == 1068811.0
    assert ert.tables["CiMStorage"]["write"] == pytest.approx(1.9)   # energies unchanged
    # the attribute asks for the placeholder per component, whatever the flag
    doc = _arch()
    for leaf in doc["architecture"]["subtree"][0]["local"]:
        if leaf["name"].startswith("CiMStorage"):
            leaf["attributes"]["cim_area"] = "placeholder"
    _, art = generate_tables(load_architecture(doc))
    assert art.areas["CiMStorage"] == 1.0 and art.areas["CiMUnit"] == 0.0


@pytest.mark.parametrize("cim_type, mac, write", [
    # cim-library-accelergy/cimmac.csv and cimstorage.csv (WWW), 45 nm, 8 b
    ("analog8T", 0.09, 3.0), ("digital6T", 0.34, 3.2), ("digital8T", 0.84, 1.7)])
def test_self_contained_each_primitive(cim_type, mac, write):
    ert, _ = generate_tables(load_architecture(_arch(cim_type)))
    assert ert.tables["CiMUnit"]["compute"] == pytest.approx(mac)
    assert ert.tables["CiMStorage"]["write"] == pytest.approx(write)


def test_macro_selector_gives_real_area():
    ert, art = generate_tables(load_architecture(_arch("analog6T", selector="macro")))
    assert ert.tables["CiMUnit"]["compute"] == pytest.approx(0.15)
    # 1.34 x 0.407719 um^2/b x 32768 b = 17902.58 um^2 per macro; one CiMStorage instance
    # holds 128 of its 32768 bits -> 69.932 um^2; the CiM unit's area is in the macro
    assert art.areas["CiMStorage"] == pytest.approx(69.932, rel=1e-4)
    assert art.areas["CiMUnit"] == 0.0
    # 1024 instances = 4 macros
    assert 1024 * art.areas["CiMStorage"] == pytest.approx(4 * 17902.58, rel=1e-4)


def test_level_area_for_iso_area_sizing():
    arch = load_architecture(_arch("analog6T"))
    by = {c.base_name: c for c in arch.components}
    assert level_area_um2(by["SMEM"]) == pytest.approx(1068811.0)
    # 1024 CiMStorage instances x 69.932 um^2 = 4 analog6T macros of 17902.58 um^2
    assert level_area_um2(by["CiMStorage"]) == pytest.approx(4 * 17902.58, rel=1e-4)
    assert level_area_um2(by["CiMInpBuffer"]) == 0.0
    assert level_area_um2(by["inter_CiMArray_spatial"]) == 0.0


def _baseline_arch(rf_depth=4096, dram_width=64, mac_width=8, tech="45nm"):
    top = {"technology": tech, "global_cycle_seconds": 1e-9}
    local = [
        _leaf("DRAM[1..1]", "DRAM", {"type": "LPDDR4", "width": dram_width, "datawidth": 8}),
        _leaf("RF[1..4]", "storage", {"depth": rf_depth, "width": 8, "datawidth": 8,
                                      "meshY": 4}, "smartbuffer_RF"),
        _leaf("mac[1..4]", "intmac", {"multiplier_width": mac_width, "adder_width": mac_width,
                                      "meshY": 4}),
    ]
    return {"architecture": {"version": "0.4", "subtree": [
        {"name": "system_top_level", "attributes": top, "local": local}]}}


def test_baseline_exact_rows():
    ert, art = generate_tables(load_architecture(_baseline_arch()))
    # tensor_core_like/outputs timeloop-mapper.ERT.yaml: RF[1..4] and mac[1..1024]
    assert ert.tables["RF"] == {"write": 11.46723, "read": 11.38848, "leak": 0.010198,
                                "update": 11.38848}
    assert ert.tables["mac"] == {"compute": 0.2625, "leak": 0.003}
    assert art.areas["RF"] == 6731.96 and art.areas["mac"] == 347.5


def test_baseline_scaling_rules():
    ert, art = generate_tables(load_architecture(
        _baseline_arch(rf_depth=8192, dram_width=128, mac_width=16)))
    # sram rule: 2x depth -> energy x 2^0.78 = 1.71707, leak and area x 2
    assert ert.tables["RF"]["read"] == pytest.approx(11.38848 * 1.717131, rel=1e-5)
    assert ert.tables["RF"]["leak"] == pytest.approx(0.020396)
    assert art.areas["RF"] == pytest.approx(13463.92)
    # dram rule: 8 pJ/bit -> 128 b = 1024 pJ; mac rule: (16/8)^2 = 4
    assert ert.tables["DRAM"]["read"] == pytest.approx(1024.0)
    assert ert.tables["mac"]["compute"] == pytest.approx(1.05)
    assert art.areas["mac"] == pytest.approx(1390.0)


def test_baseline_node_scaling():
    ert, art = generate_tables(load_architecture(_baseline_arch(tech="65nm")))
    # Stillmaker & Baas at nominal VDD: 65 nm 1.1 V -> 1.68075, 45 nm 1.0 V -> 0.8612
    k = 1.68075 / 0.8612
    assert ert.tables["mac"]["compute"] == pytest.approx(0.2625 * k)
    assert art.areas["mac"] == pytest.approx(347.5 * 1.5)
    assert ert.tables["DRAM"]["read"] == 512.0          # off-chip: not node-scaled


def test_user_table_overrides(tmp_path):
    p = tmp_path / "tech.yaml"
    p.write_text(yaml.safe_dump({"technology": "45nm", "tables": [{
        "class": "intmac", "scaling": "mac", "match": {"multiplier_width": 8, "adder_width": 8},
        "actions": {"compute": 0.5, "leak": 0.0}, "area_um2": 300.0,
        "source": "my synthesis"}]}), encoding="utf-8")
    ert, art = generate_tables(load_architecture(_baseline_arch()), extra=[p])
    assert ert.tables["mac"]["compute"] == 0.5 and art.areas["mac"] == 300.0


def test_errors_name_component():
    doc = _arch("analog9T")
    with pytest.raises(InputError) as e:
        generate_tables(load_architecture(doc))
    assert "CiMStorage" in str(e.value) and "analog6T" in str(e.value)
    doc = copy.deepcopy(_baseline_arch())
    doc["architecture"]["subtree"][0]["local"][2]["class"] = "fancy_mac"
    with pytest.raises(InputError) as e:
        generate_tables(load_architecture(doc))
    assert "fancy_mac" in str(e.value) and "intmac" in str(e.value)


def test_cli_ert_self_contained(tmp_path, capsys):
    spec = tmp_path / "arch.yaml"
    spec.write_text(yaml.safe_dump(_arch("digital6T")), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["ert", str(spec), "-o", str(out)]) == 0
    ert = load_ert(out / "ERT.yaml")
    assert ert.tables["CiMUnit"]["compute"] == pytest.approx(0.34)
    areas = load_art(out / "ART.yaml").areas
    # digital6T: 1.4 x 0.407719 um^2/b x 32768 b = 18704.2 um^2 per macro; one CiMStorage
    # instance holds 128 of its bits in this test architecture
    assert areas["SMEM"] == 1068811.0
    assert areas["CiMStorage"] == pytest.approx(18704.2 * 128 / 32768, rel=1e-4)
    assert main(["ert", str(spec), "--paper-compat", "-o", str(tmp_path / "www")]) == 0
    assert load_art(tmp_path / "www" / "ART.yaml").areas["CiMStorage"] == 1.0
    assert main(["ert", "--plugin-path"]) == 0
    assert capsys.readouterr().out.strip().endswith("accelergy_plugin.py")
    assert main(["ert", str(spec)]) == 2                # no -o


def test_cli_ert_output_folder_marker_and_force(tmp_path, capsys):
    """ert marks its folder like model and map: it may write into it again, refuses a
    non-empty folder it did not make unless --force, and publishes both tables."""
    spec = tmp_path / "arch.yaml"
    spec.write_text(yaml.safe_dump(_baseline_arch()), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["ert", str(spec), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".cim-plugin", "ART.yaml", "ERT.yaml"]
    assert '"command": "ert"' in (out / ".cim-plugin").read_text()
    assert main(["ert", str(spec), "-o", str(out)]) == 0            # its own folder
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["ert", str(spec), "-o", str(theirs)]) == 2
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    assert main(["ert", str(spec), "-o", str(theirs), "--force"]) == 0
    assert (theirs / "notes.txt").read_text() == "mine" and (theirs / "ERT.yaml").is_file()


def test_cli_ert_unknown_class_names_the_spec_file(tmp_path, capsys):
    doc = copy.deepcopy(_baseline_arch())
    doc["architecture"]["subtree"][0]["local"][2]["class"] = "fancy_mac"
    spec = tmp_path / "arch.yaml"
    spec.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["ert", str(spec), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{spec}: architecture.mac" in err and "fancy_mac" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, field", [
    ({"match": {"multiplier_width": "abc", "adder_width": 8}}, "tables[0].match.multiplier_width"),
    ({"match": {"multiplier_width": 0, "adder_width": 8}}, "tables[0].match"),
    ({"actions": {"compute": "\uff15 pJ"}}, "tables[0].actions.compute"),
    ({"area_um2": "1_0 um2"}, "tables[0].area_um2"),
])
def test_user_table_errors_name_the_file(tmp_path, edit, field):
    row = {"class": "intmac", "scaling": "mac", "match": {"multiplier_width": 16, "adder_width": 8},
           "actions": {"compute": 0.5, "leak": 0.0}, "area_um2": 300.0, "source": "my synthesis"}
    p = tmp_path / "tech.yaml"
    p.write_text(yaml.safe_dump({"tables": [{**row, **edit}]}), encoding="utf-8")
    with pytest.raises(InputError) as e:
        generate_tables(load_architecture(_baseline_arch(mac_width=4)), extra=[p])
    assert e.value.file == str(p) and e.value.field == field
