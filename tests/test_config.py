"""Config: defaults, TOML round trip, clear rejections."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from arrow_events import UserError, dump_toml, load_config
from arrow_events.config import config_from_dict
from arrow_events.sweep import read_sweep_config


def test_defaults_are_domain_defaults():
    cfg = load_config(None)
    s = cfg.scenario
    assert (s.growth, s.termination_rate, s.new_hire_termination_rate, s.cola) == (0.03, 0.12, 0.25, 0.02)
    assert cfg.years == [2025, 2026, 2027, 2028, 2029]
    d = cfg.plan_designs[0]
    assert (d.min_age, d.auto_enroll_rate, d.match_ceiling, d.escalation_cap) == (21, 0.06, 0.06, 0.10)


def test_toml_round_trip(tmp_path):
    cfg = load_config(None)
    text = dump_toml(cfg)
    p = tmp_path / "c.toml"
    p.write_text(text)
    assert load_config(p) == cfg
    assert config_from_dict(tomllib.loads(text)).digest() == cfg.digest()


def test_partial_file_overlays_defaults(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[scenario]\ngrowth = 0.05\n\n[[plan_designs]]\nplan_design_id = "a"\n\n'
                 '[[plan_designs]]\nplan_design_id = "b"\nauto_enroll = false\n')
    cfg = load_config(p)
    assert cfg.scenario.growth == 0.05 and cfg.scenario.termination_rate == 0.12
    assert [d.plan_design_id for d in cfg.plan_designs] == ["a", "b"]
    assert cfg.plan_designs[1].auto_enroll is False


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[scenario]\ngrowht = 0.1\n", "unknown key 'growht' (did you mean 'growth'?)"),
        ("[scenari]\n", "did you mean 'scenario'"),
        ("[scenario]\ngrowth = 1.5\n", "growth: |growth| must be <= 1"),
        ("[scenario]\nnew_hire_termination_rate = 0.995\n", "new_hire_termination_rate"),
        ("[scenario]\ntermination_rate = -0.1\n", "between 0 and 1"),
        ("[scenario]\nyears = \"five\"\n", "expected a whole number"),
        ("[[plan_designs]]\nauto_enroll_scope = \"some\"\n", "'new_hires' or 'all'"),
        ("[scenario\n", "invalid TOML"),
        ("[[plan_designs]]\nescalation_date = \"05-01\"\n", "on or before deferral_change_date"),
        ("[scenario]\nmerit_date = \"01-15\"\n", "merit_date: must be on or after promotion_date"),
        ("[merit_performance]\nupper = [0.5, 0.5000001, 1.0]\nmultiplier = [0.0, 1.0, 1.5]\n",
         "at least 0.000001 apart"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0, employee_max = 0.06 }]\n",
         "match_tiers[0]: missing match_rate"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0, employee_max = 0.06, match = 0.5 }]\n",
         "unknown key 'match' (did you mean 'match_rate'?)"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.06, employee_max = 0.03, match_rate = 0.5 }]\n",
         "match_tiers[0]: needs 0 <= employee_min < employee_max <= 1"),
        ("[[plan_designs]]\nmatch_tiers = [0.5]\n", "match_tiers[0]: expected an inline table"),
        ("[[plan_designs]]\ncore_rate = 1.5\n", "core_rate"),
        ("[limits]\nyear = [2025, 2026]\ndeferral = [23500.0]\n", "[limits].deferral: needs one value per year"),
        ("[limits]\nyear = [2026, 2025]\n", "[limits].year: years must increase strictly"),
    ],
)
def test_bad_config_is_named(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(UserError) as err:
        load_config(p)
    assert needle in str(err.value) and str(p) in str(err.value)


def test_digest_ignores_engine_settings_but_not_the_model():
    a, b, c = load_config(None), load_config(None), load_config(None)
    b.engine.memory_limit = "2GB"
    c.scenario.seed = 43
    assert a.digest() == b.digest() != c.digest()


def test_limits_by_year_as_built_in_and_indexed():
    from arrow_events.config import limits_for

    limits = load_config(None).limits
    assert limits_for(limits, 2025).deferral == 23_500_00 and limits_for(limits, 2026).compensation == 360_000_00
    assert limits_for(limits, 2024) == limits_for(limits, 2025)  # before the first listed: the first
    # 2027: 24,500 x 1.025 = 25,112.5 -> 25,000; 360,000 x 1.025 = 369,000 -> 365,000; 8,000 x 1.025 -> 8,000
    y2027 = limits_for(limits, 2027)
    assert (y2027.deferral, y2027.compensation, y2027.catch_up, y2027.catch_up_60_63) == (
        25_000_00, 365_000_00, 8_000_00, 11_500_00)
    # compounded from the last listed year, unrounded, then rounded down: 24,500 x 1.025^3 = 26,383.6 -> 26,000
    assert limits_for(limits, 2029).deferral == 26_000_00


def test_the_shipped_example_and_the_readme_snippets_load(tmp_path):
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "examples" / "plan_designs.toml")
    assert [d.plan_design_id for d in cfg.plan_designs] == ["auto_enroll_stretch", "voluntary_basic"]
    readme = (root / "README.md").read_text()
    blocks = readme.split("```toml\n")[1:]
    assert len(blocks) >= 3
    for block in blocks:
        text = block.split("```")[0]
        if "sweep" in tomllib.loads(text):  # a sweep's grid: one config per value
            (tmp_path / "grid.toml").write_text(text)
            assert read_sweep_config(tmp_path / "grid.toml").grid
        else:
            config_from_dict(tomllib.loads(text), "README")
