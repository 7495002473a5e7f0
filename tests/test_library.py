"""CiM macro library: loading, validation, derived vs published figures, scaling."""

from __future__ import annotations

import math
import textwrap

import pytest

from cim_plugin.cli import main
from cim_plugin.errors import InputError
from cim_plugin.library import (
    figures,
    get_macro,
    load_macro_library,
    macro_area_um2,
    published_native,
    scaling,
    sram_area_um2,
)
from cim_plugin.library.loader import clear_cache

PRIMITIVES = ("analog6T", "analog8T", "digital6T", "digital8T")


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv("CIM_PLUGIN_LIBRARY", raising=False)
    clear_cache()
    yield
    clear_cache()


def test_library_has_primitives_and_eight_published_macros():
    lib = load_macro_library()
    assert set(PRIMITIVES) <= set(lib)
    published = [m for m in lib.values() if m.name not in PRIMITIVES]
    assert len(published) >= 8
    for m in lib.values():
        assert m.provenance, m.name
        assert m.area_um2 is not None or m.area_factor is not None


# method.md, table "CiM primitive abstraction" (Rp, Cp, Rh, Ch, latency, area x, pJ/MAC,
# write pJ/8 b), WWW paper; 4096 B each.
METHOD_TABLE = {
    "analog6T": (64, 4, 1, 16, 9, 1.34, 0.15, 1.9),
    "analog8T": (64, 4, 1, 16, 144, 2.1, 0.09, 3.0),
    "digital6T": (256, 16, 1, 1, 18, 1.4, 0.34, 3.2),
    "digital8T": (1, 128, 10, 1, 233, 1.1, 0.84, 1.7),
}


@pytest.mark.parametrize("name", PRIMITIVES)
def test_primitives_match_method_table(name):
    m = get_macro(name)
    rp, cp, rh, ch, lat, af, e_mac, e_w = METHOD_TABLE[name]
    assert (m.rp, m.cp, m.rh, m.ch, m.capacity_bytes) == (rp, cp, rh, ch, 4096)
    assert m.latency_cycles == lat and m.area_factor == af
    assert m.energy_per_mac_pJ == pytest.approx(e_mac)
    assert m.write_energy_pJ == pytest.approx(e_w)
    assert m.node_nm == 45.0 and m.precision_bits == 8


def test_primitive_derived_figures_by_hand():
    # analog6T: 64*4 MACs per 9 ns -> 2*256/9 = 56.89 GOPS; 2/0.15 pJ = 13.33 TOPS/W
    f = figures(get_macro("analog6T"))
    assert f.gops == pytest.approx(512 / 9)
    assert f.tops_per_w == pytest.approx(13.3333, rel=1e-4)
    # digital6T: 4096 MACs per 18 ns -> 455.1 GOPS
    assert figures(get_macro("digital6T")).gops == pytest.approx(8192 / 18)


def _tolerance(v: float) -> float:
    """Half a unit of the last printed digit of a published figure (its rounding)."""
    text = repr(float(v))
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10 ** (-decimals)


@pytest.mark.parametrize("name", [n for n in load_macro_library() if n not in PRIMITIVES])
def test_derived_figures_agree_with_published(name):
    m = get_macro(name)
    raw = m.extra["published"]
    assert raw, f"{name} cites no published figure"
    f = figures(m, macro_area_um2(m))
    derived = {"gops": f.gops, "tops_per_w": f.tops_per_w, "tops_per_mm2": f.tops_per_mm2,
               "energy_per_mac_pJ": m.energy_per_mac_pJ}
    product = m.extra["input_bits"] * m.precision_bits
    for key, value in raw.items():
        native_key, scale = {
            "gops": ("gops", 1.0), "tops_1b": ("gops", 1e3 / product),
            "tops_per_w": ("tops_per_w", 1.0), "tops_per_w_1b": ("tops_per_w", 1 / product),
            "tops_per_mm2": ("tops_per_mm2", 1.0),
            "tops_per_mm2_1b": ("tops_per_mm2", 1 / product),
            "energy_per_mac_fJ": ("energy_per_mac_pJ", 1e-3)}[key]
        # the published figure's own rounding, carried through the conversion
        tol = _tolerance(value) * scale + 2e-4 * abs(value * scale)
        assert derived[native_key] == pytest.approx(value * scale, abs=tol), (name, key)
    assert published_native(m)


def test_one_bit_normalized_figures_are_converted():
    # cim-macros.md: Chih ISSCC'21 [DB] 13.11 1b-TOPS at 8b x 8b -> 13.11/64 = 0.2048 TOPS
    m = get_macro("chih_isscc21")
    assert published_native(m)["gops"] == pytest.approx(204.84, abs=0.01)
    assert figures(m).gops == pytest.approx(204.8)
    # Si ISSCC'20 [DB] 7.23 1b-TOPS/mm2 at 8b -> 0.113 TOPS/mm2, never 7.23
    si = get_macro("si_isscc20")
    assert figures(si).tops_per_mm2 == pytest.approx(7.23 / 64, rel=2e-3)


def test_sinangil_published_figures():
    # cim-macros.md [CL]: 372.4 GOPS, 351 TOPS/W at 0.8 V; area 1596 + 800 um^2
    m = get_macro("sinangil_jssc21")
    f = figures(m)
    assert f.gops == pytest.approx(372.4, abs=0.05)
    assert f.tops_per_w == pytest.approx(351, abs=0.05)
    assert m.area_um2 == 2396 and m.voltage_V == 0.8


def test_unknown_macro_lists_known():
    with pytest.raises(InputError) as e:
        get_macro("analog9T")
    assert "analog6T" in str(e.value) and "digital8T" in str(e.value)


# ------------------------------------------------------------------ user files

GOOD = """
macros:
  - name: my_macro
    Rp: 32
    Cp: 8
    Rh: 1
    Ch: 4
    capacity_bytes: 1024
    latency_cycles: 4
    energy_per_mac: 50 fJ
    write_energy: 0.5 pJ
    area_um2: 0.01 mm2
    node: 32nm
    voltage: 0.9 V
    precision_bits: 8
    provenance:
      - fields: [Rp, Cp, Rh, Ch, capacity_bytes, latency_cycles, energy_per_mac,
                 write_energy, area_um2, voltage, precision_bits]
        paper: "my tape-out"
        kind: measured
"""


def _write(tmp_path, text, name="my.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_user_library_via_extra_and_env(tmp_path, monkeypatch):
    p = _write(tmp_path, GOOD)
    lib = load_macro_library([p])
    m = lib["my_macro"]
    assert m.energy_per_mac_pJ == pytest.approx(0.05)     # 50 fJ
    assert m.area_um2 == pytest.approx(10000.0)            # 0.01 mm^2
    assert "analog6T" in lib
    clear_cache()
    monkeypatch.setenv("CIM_PLUGIN_LIBRARY", str(p))
    assert get_macro("my_macro").rp == 32


@pytest.mark.parametrize("edit, field", [
    (("Rp: 32", "Rp: -32"), "Rp"),
    (("    Rp: 32\n", ""), "Rp"),
    (("50 fJ", "50 furlongs"), "energy_per_mac"),
    (("0.5 pJ", "-0.5 pJ"), "write_energy"),
    (("32nm", "3nm"), "node"),
    (("capacity_bytes: 1024", "capacity_bytes: 100"), "capacity_bytes"),
    (("write_energy, area_um2", "write_energy"), "provenance"),
])
def test_bad_entries_name_file_and_entry(tmp_path, edit, field):
    p = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(InputError) as e:
        load_macro_library([p])
    assert str(p) in str(e.value)
    assert "my_macro" in str(e.value) and field in str(e.value)


# ------------------------------------------------------------------ scaling (hand values)

def test_stillmaker_energy_factor_by_hand():
    # HP45 energy polynomial at 1.0 V: 1.018 - 0.3107 + 0.1539 = 0.8612
    assert scaling.energy_factor(45, 1.0) == pytest.approx(0.8612)
    # 65 nm at 1.1 V: 3.755*1.21 - 4.398*1.1 + 1.975 = 1.68075
    assert scaling.energy_factor(65, 1.1) == pytest.approx(1.68075)
    e = scaling.scale_energy(1.0, scaling.Corner(65, 1.1), scaling.Corner(45, 1.0))
    assert e == pytest.approx(0.8612 / 1.68075)
    # HP45 delay cubic at 1.0 V: -501.6 + 1567 - 1619 + 566.1 = 12.5
    assert scaling.delay_factor(45, 1.0) == pytest.approx(12.5)


def test_area_scaling_and_interpolation():
    assert scaling.scale_area(150.0, 65, 45) == pytest.approx(100.0)    # 65 nm = 1.5 x 45 nm
    # 22 nm lies between 32 (0.46) and 20 (0.21): geometric in log(node)
    t = math.log(22 / 20) / math.log(32 / 20)
    expected = math.exp((1 - t) * math.log(0.21) + t * math.log(0.46))
    assert scaling.area_factor(22) == pytest.approx(expected)
    assert 0.21 < scaling.area_factor(22) < 0.46
    with pytest.raises(InputError):
        scaling.area_factor(5)


def test_macro_area_from_factor_and_node_scaling():
    # plain SRAM density from baseline_45nm.yaml smartbuffer_SRAM row:
    # 855048.8 um^2 / (8192*256 b) = 0.407719 um^2/b; 4096 B -> 13360.1 um^2
    assert sram_area_um2(4096) == pytest.approx(13360.13, rel=1e-5)
    assert macro_area_um2(get_macro("analog6T")) == pytest.approx(1.34 * 13360.13, rel=1e-5)
    # Colonnade 0.2272 mm^2 at 65 nm -> 45 nm: / 1.5
    assert macro_area_um2(get_macro("colonnade_jssc21"), 45) == pytest.approx(227200 / 1.5)


# ------------------------------------------------------------------ CLI

def test_cli_components_list_and_show(capsys):
    assert main(["components", "list"]) == 0
    out = capsys.readouterr().out
    assert "analog6T" in out and "si_isscc20" in out and "TOPS/W" in out
    assert main(["components", "show", "wang_vlsi22"]) == 0
    out = capsys.readouterr().out
    assert "0.124 mm2" in out and "[CL]" in out and "32.2" in out
    assert main(["components", "show", "nope"]) == 2


@pytest.mark.parametrize("text", ["\uff15 pJ", "1_0 pJ", "5\u3000pJ", "\u0665 pJ", "nan pJ",
                                  "1" * 60 + " pJ"])
def test_quantities_are_ascii_numbers(text):
    from cim_plugin.library.units import parse_quantity

    with pytest.raises(InputError) as e:
        parse_quantity(text, "energy", file="lib.yaml", field="energy_per_mac")
    assert e.value.file == "lib.yaml" and e.value.field == "energy_per_mac"
    assert parse_quantity(" 5 pJ ", "energy") == 5.0
    assert parse_quantity("0.124 mm2", "area") == pytest.approx(124000.0)
