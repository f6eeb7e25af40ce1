"""Config: defaults, TOML round trip, clear rejections."""

from __future__ import annotations

import hashlib
import json
import pickle
import tomllib
from pathlib import Path

import pytest

from arrow_events import UserError, dump_toml, load_config
from arrow_events.config import Config, census_start, config_from_dict, config_from_toml, unknown_key
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


def test_the_shipped_examples_load():
    """examples/*.toml (the docs' TOML blocks are checked by test_docs)."""
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "examples" / "plan_designs.toml")
    assert [d.plan_design_id for d in cfg.plan_designs] == ["auto_enroll_stretch", "voluntary_basic"]
    planalign = load_config(root / "examples" / "planalign_like.toml")
    assert planalign.hours_of_service and planalign.plan_designs[0].match_min_hours == 1000
    assert planalign.scenario.cola == 0.01 and planalign.levels.hire_pay_position == [0.30, 0.40, 0.50, 0.65, 0.70]


# -- the rules, each refused in one line naming the key ---------------------------------------------

_FIVE = "[40000.0, 70000.0, 120000.0, 160000.0, 275000.0]"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # cross-field rules
        ('[scenario]\nmerit_date = "01-15"\n', "[scenario].merit_date: must be on or after promotion_date "
                                              "(merit applies to the pay after any promotion)"),
        ('[[plan_designs]]\nescalation_date = "05-01"\n',
         "plan_designs[0].escalation_date: must be on or before deferral_change_date "
         "(rate changes compose escalation first)"),
        ("[levels]\npay_max = [80000.0, 120000.0, 160000.0, 275000.0, 275000.0]\n",
         "[levels].pay_max: each pay_max must exceed its pay_min"),
        (f"[levels]\npay_min = {_FIVE}\n", "[levels].pay_min: level ranges must ascend"),
        ("[levels]\npay_min = [1.0]\n", "[levels].pay_min: needs exactly 5 values, one per level 1..5"),
        ("[tenure_bands]\nlower = [1, 2, 5, 10, 20]\n", "[tenure_bands]: lower must start at 0"),
        ("[tenure_bands]\nlower = [0, 5, 2, 10, 20]\n", "[tenure_bands]: lower must be strictly increasing"),
        ("[age_bands]\ntermination_mult = [1.0]\n",
         "[age_bands]: termination_mult needs 6 values (one per band), got 1"),
        ("[hire_ages]\nages = [22]\n", "[hire_ages]: ages and weights need the same, non-zero, length"),
        ("[hire_ages]\nages = [30]\nweights = [0]\n", "[hire_ages].weights: weights must be >= 0, sum > 0"),
        ("[merit_performance]\nupper = [0.1]\n", "[merit_performance]: upper and multiplier need the same length"),
        ("[merit_performance]\nupper = [0.1, 0.5, 0.9]\n",
         "[merit_performance].upper: must increase strictly and end at 1.0"),
        ("[merit_performance]\nupper = [0.0, 0.5, 1.0]\n",
         "[merit_performance].upper: boundaries must be above 0 and at least 0.000001 apart"),
        ("[limits]\nyear = [2025, 2026, 2027]\n", "[limits].deferral: needs one value per year (3)"),
        ("[limits]\nyear = []\n", "[limits].year: needs at least one year"),
        ('[[plan_designs]]\nplan_design_id = "a"\n[[plan_designs]]\nplan_design_id = "a"\n',
         "plan_designs: duplicate plan_design_id in ['a', 'a']"),
        ("[[plan_designs]]\nopt_out_age_lower = [0, 35]\n",
         "plan_designs[0].opt_out_age_lower: opt_out_age_mult needs 2 values (one per band), got 4"),
        ("[[plan_designs]]\nvoluntary_age_lower = [5, 31, 46, 56]\n",
         "plan_designs[0].voluntary_age_lower: lower must start at 0"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0, employee_max = 1.5, match_rate = 0.5 }]\n",
         "plan_designs[0].match_tiers[0]: needs 0 <= employee_min < employee_max <= 1"),
        ("[scenario]\nnew_hire_termination_rate = 0.995\n", "[scenario].new_hire_termination_rate: must be below 0.99 "
                                                            "(the hiring solver divides by 1 - rate), got 0.995"),
        # ranges
        ("[scenario]\nyears = 60\n", "[scenario].years: must be between 1 and 50, got 60"),
        ("[scenario]\nstart_year = 1800\n", "[scenario].start_year: must be a year between 1900 and 2200, got 1800"),
        ("[scenario]\ngrowth = -1.5\n", "[scenario].growth: |growth| must be <= 1, got -1.5"),
        ("[scenario]\nhire_pay_spread = 1.0\n", "[scenario].hire_pay_spread: must be in [0, 1), got 1.0"),
        ("[scenario]\nseed = 9223372036854775808\n",
         "[scenario].seed: must fit in a signed 64-bit integer, got 9223372036854775808"),
        ("[levels]\nmerit_rate = [0.1, 0.1, 1.5, 0.1, 0.1]\n",
         "[levels].merit_rate[2]: must be between 0 and 1, got 1.5"),
        ("[age_bands]\npromotion_mult = [1.6, 1.4, 1.1, 0.7, 0.3, -0.1]\n",
         "[age_bands].promotion_mult[5]: must be >= 0, got -0.1"),
        ("[hire_ages]\nages = [90]\nweights = [1]\n", "[hire_ages].ages[0]: must be between 16 and 80, got 90"),
        ("[limits]\ndeferral = [-1.0, 2.0]\n", "[limits].deferral[0]: must be between 0 and 100,000,000, got -1.0"),
        ("[[plan_designs]]\nwaiting_days = 4000\n",
         "plan_designs[0].waiting_days: must be between 0 and 3650, got 4000"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0, employee_max = 0.06, match_rate = 11 }]\n",
         "plan_designs[0].match_tiers[0].match_rate: must be between 0 and 10, got 11"),
        ('[scenario]\nscenario_id = ""\n', "[scenario].scenario_id: must not be empty"),
        ('[scenario]\npromotion_date = "02-29"\n',
         "[scenario].promotion_date: expected a month-day like \"02-01\" (Feb 29 not allowed), got '02-29'"),
        ('[[plan_designs]]\nauto_enroll_scope = "some"\n',
         "plan_designs[0].auto_enroll_scope: must be 'new_hires' or 'all', got 'some'"),
        ('[engine]\nmemory_limit = "1KB"\n', "[engine].memory_limit: '1KB' is below the 1 MiB minimum"),
        # types, exactly TOML's
        ("[scenario]\nyears = true\n", "[scenario].years: expected a whole number, got True"),
        ("[scenario]\nyears = 5.0\n", "[scenario].years: expected a whole number, got 5.0"),
        ("[[plan_designs]]\nauto_enroll = 1\n", "plan_designs[0].auto_enroll: expected true or false, got 1"),
        ('[scenario]\ngrowth = "x"\n', "[scenario].growth: expected a number, got 'x'"),
        ("[scenario]\ngrowth = nan\n", "[scenario].growth: must be a finite number, got nan"),
        ("[scenario]\nscenario_id = 7\n", "[scenario].scenario_id: expected a string, got 7"),
        ("[levels]\npay_min = 5\n", "[levels].pay_min: expected a list, got 5"),
        ("scenario = 5\n", "[scenario]: expected a table, got 5"),
        ("plan_designs = []\n", "plan_designs: must be a non-empty array of tables ([[plan_designs]])"),
        ("plan_designs = [3]\n", "plan_designs[0]: expected a table, got 3"),
        # keys
        ('[[plan_designs]]\n[[plan_designs]]\nplan_design_id = "b"\nmin_agee = 3\n',
         "plan_designs[1]: unknown key 'min_agee' (did you mean 'min_age'?)"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0 }]\n",
         "plan_designs[0].match_tiers[0]: missing employee_max, match_rate"),
        ("[[plan_designs]]\nmatch_tiers = [{ employee_min = 0.0, match = 0.5 }]\n",  # the typo, not what it left out
         "plan_designs[0].match_tiers[0]: unknown key 'match' (did you mean 'match_rate'?)"),
        ("x = 1\n", "unknown key 'x' (allowed: age_bands, engine, hire_ages, levels, limits, merit_performance, "
                    "plan_designs, scenario, tenure_bands)"),
        ("[sweep]\ngrowth = [0.1]\n",
         "[sweep] makes one scenario per value, for arrow-events sweep only; remove it to use the config alone"),
    ],
)
def test_each_rule_is_one_line_naming_the_key(text, message):
    with pytest.raises(UserError) as err:
        config_from_toml(text, "plan.toml")
    assert str(err.value) == f"plan.toml: {message}"


def test_numbers_take_whole_numbers_as_floats():
    cfg = config_from_toml("[scenario]\ngrowth = 0\n[limits]\nlimit_growth = 1\n")
    assert (cfg.scenario.growth, cfg.limits.limit_growth) == (0.0, 1.0)
    assert type(cfg.scenario.growth) is float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scenario]\ngrowth = " + "[" * 200 + "]" * 200 + "\n",
         "[scenario].growth: expected a number, got [[[[...]]]]"),
        ("[scenario]\ngrowth = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML: arrays or tables nested too deeply"),
        ("a = " + "{ b = " * 5000 + "1" + " }" * 5000 + "\n", "invalid TOML: arrays or tables nested too deeply"),
    ],
)
def test_deep_or_huge_input_is_one_short_line(text, message):
    with pytest.raises(UserError) as err:
        config_from_toml(text, "plan.toml")
    assert str(err.value) == f"plan.toml: {message}"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('[engine]\nmemory_limit = "' + "9" * 400 + 'GB"\n', "[engine].memory_limit: expected a size like 1GB"),
        (f'[scenario]\npromotion_date = "{"x" * 1_000_000}"\n', "[scenario].promotion_date: expected a month-day"),
        (f'[scenario]\n{"k" * 100_000} = 1\n', "[scenario]: unknown key 'kkk"),
    ],
)
def test_a_huge_value_is_shown_cut_short(text, start):
    with pytest.raises(UserError) as err:
        config_from_toml(text, "plan.toml")
    assert str(err.value).startswith(f"plan.toml: {start}") and len(str(err.value)) < 400


def _two_designs() -> Config:
    return config_from_toml(
        '[scenario]\nseed = 7\ngrowth = 0.05\n[engine]\nmemory_limit = "2GB"\n'
        '[[plan_designs]]\nplan_design_id = "a"\nmatch_tiers = []\n'
        '[[plan_designs]]\nplan_design_id = "b"\nauto_enroll = false\n'
        "match_tiers = [{ employee_min = 0.0, employee_max = 0.03, match_rate = 1.0 },\n"
        "               { employee_min = 0.03, employee_max = 0.05, match_rate = 0.5 }]\n", "two.toml")


def test_tomli_w_round_trip_of_a_non_default_config():
    cfg = _two_designs()
    text = dump_toml(cfg)
    again = config_from_toml(text, "again.toml")
    assert again == cfg and again.digest() == cfg.digest()
    assert again.plan_designs[1].match_tiers[1].match_rate == 0.5 and again.plan_designs[0].match_tiers == []
    assert tomllib.loads(text) == cfg.to_dict()
    assert again.memory_limit_bytes == 2_000_000_000


def test_equality_ignores_where_a_config_came_from():
    a, b = load_config(None), config_from_toml(dump_toml(load_config(None)), "x.toml")
    assert (a.source, b.source) == ("defaults", "x.toml") and a.explicit != b.explicit
    assert a == b
    b.scenario.seed = 8
    assert a != b


def test_configs_pickle_with_where_they_came_from():
    cfg = _two_designs()
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and back.digest() == cfg.digest()
    assert (back.source, back.explicit) == (cfg.source, cfg.explicit) == ("two.toml", cfg.explicit)
    assert "scenario.seed" in back.explicit


def test_with_scenario_is_a_checked_copy():
    cfg = _two_designs()
    seeded = cfg.with_scenario(seed=11)
    assert (seeded.scenario.seed, cfg.scenario.seed) == (11, 7)
    assert seeded.scenario.growth == 0.05 and seeded.plan_designs == cfg.plan_designs
    assert (seeded.source, seeded.explicit) == (cfg.source, cfg.explicit)
    with pytest.raises(UserError, match=r"^two\.toml: \[scenario\]\.years: must be between 1 and 50, got 0$"):
        cfg.with_scenario(years=0)
    with pytest.raises(UserError, match=r"^two\.toml: \[scenario\]: unknown key 'sede' \(did you mean 'seed'\?\)$"):
        cfg.with_scenario(sede=1)


def test_census_start_moves_the_start_year_unless_the_file_sets_it(tmp_path):
    assert census_start(load_config(None), 2030).scenario.start_year == 2030
    with pytest.raises(UserError, match="sets \\[scenario\\].start_year = 2026"):
        census_start(config_from_toml("[scenario]\nstart_year = 2026\n", "p.toml"), 2030)


def test_the_digest_is_canonical_json_not_toml():
    """Stored in every manifest and run.json: pinned, so that a change to it is a decision."""
    cfg = load_config(None)
    assert cfg.digest() == "cac4bf63e89ecb5391079fc5a2c9a5815fb44a1cf50b4b15b1c68b400fb353b1"
    data = cfg.to_dict()
    del data["engine"]
    assert cfg.digest() == hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_match_tiers_are_models_with_the_default_tier():
    tier = load_config(None).plan_designs[0].match_tiers[0]
    assert (tier.employee_min, tier.employee_max, tier.match_rate) == (0.0, 0.06, 0.5)


def test_unknown_key_is_a_helper_for_other_tables():
    err = unknown_key("thredas", ["threads", "years"], "simulate")
    assert str(err) == "simulate: unknown key 'thredas' (did you mean 'threads'?)"


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("growth = [[[0.02]]]", "[sweep].growth: expected a list of values, e.g. growth = [0.02, 0.03]"),
        ("seeds = " + "[" * 100 + "]" * 100, '[sweep].seeds: expected text like "1-100", got ' + "[" * 60 + "..."),
        ("\n".join(f"{k} = [{', '.join(['0.01'] * 10)}]"
                   for k in ("growth", "cola", "termination_rate", "promotion_raise", "promotion_base_rate", "years")),
         "[sweep]: more than 100,000 combinations of values; sweep them in parts"),
    ],
)
def test_a_bad_sweep_grid_is_one_line(tmp_path, sweep, message):
    p = tmp_path / "grid.toml"
    p.write_text(f"[sweep]\n{sweep}\n")
    with pytest.raises(UserError) as err:
        read_sweep_config(p)
    assert str(err.value) == f"{p}: {message}"
