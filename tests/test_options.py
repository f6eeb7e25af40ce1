"""RunOptions: one coercion from text for every layer, errors that name the option."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from arrow_events import OptionError, RunOptions, UserError, load_config
from arrow_events.cli import main
from arrow_events.config import for_run
from arrow_events.options import MAX_YEARS, with_values
from arrow_events.service.runs import parse_simulate


def test_text_and_values_give_the_same_options():
    as_text = RunOptions(years="2025-2027", seed="7", threads="1", memory_limit="1GB", shard_rows="500",
                         contributions="false", on_bad_rows="skip", date_format="%d/%m/%Y")
    as_values = RunOptions(years=[2025, 2026, 2027], seed=7, threads=1, memory_limit=10**9, shard_rows=500,
                           contributions=False, on_bad_rows="skip", date_format="%d/%m/%Y")
    assert as_text == as_values
    assert as_text.years == (2025, 2026, 2027) and as_text.memory_limit == 1_000_000_000
    assert RunOptions(memory_limit="2GiB").memory_limit == 2 * 2**30
    with pytest.raises(OptionError, match="contributions: expected true or false, got 1"):
        RunOptions(contributions=1)  # a number is not a yes or no


@pytest.mark.parametrize(("values", "message"), [
    ({"years": "2027-2025"}, "years: expected YEAR or FIRST-LAST with FIRST <= LAST"),
    ({"years": "2025-9999"}, "years: years must be between 1900 and 2200"),
    ({"years": [2025, 2027]}, "years: expected consecutive years in order"),
    ({"years": "1950-2100"}, f"years: at most {MAX_YEARS} years in one run, got 151"),
    ({"seed": 2**64}, "seed: must be between"),
    ({"seed": True}, "seed: expected a whole number, got True"),
    ({"threads": 0}, "threads: must be between 1 and 256, got 0"),
    ({"engine": "turbo"}, "engine: expected one of fused, legacy, got 'turbo'"),
    ({"memory_limit": "12 apples"}, "memory_limit: expected a size like 1GB"),
    ({"memory_limit": "5"}, "memory_limit: '5' is below the 1 MiB minimum"),
    ({"ray_address": "auto"}, "ray_address: goes with executor=ray"),
    ({"on_bad_rows": "maybe"}, "on_bad_rows: expected one of fail, skip"),
    ({"contributions": "perhaps"}, "contributions: expected true or false"),
    ({"date_format": "x" * 5000}, "date_format: expected text, got 'xxxxx"),
])
def test_a_bad_value_names_the_option(values, message):
    with pytest.raises(OptionError) as e:
        RunOptions(**values)
    assert str(e.value).startswith(message), str(e.value)
    assert len(str(e.value)) < 200  # a huge input is shown cut short


def test_requests_name_where_the_option_came_from():
    with pytest.raises(OptionError, match=r"^simulate\.threads: must be between 1 and 256, got 999$"):
        RunOptions.from_values({"threads": 999}, where="simulate")
    with pytest.raises(UserError, match=r"simulate: unknown key 'thredas' \(did you mean 'threads'\?\)"):
        RunOptions.from_values({"thredas": 1}, ["threads", "years"], where="simulate")
    req = parse_simulate({"years": "2025-2026", "seed": 7, "memory_limit": "512MB"})
    assert req.years == [2025, 2026] and req.cfg.scenario.seed == 7 and req.options.memory_limit == 512 * 10**6
    with pytest.raises(OptionError, match=r"^simulate\.years: "):
        parse_simulate({"years": "2025-9999"})


def test_the_command_line_uses_the_same_coercion_and_shows_the_flag():
    r = CliRunner().invoke(main, ["run", "--memory-limit", "12 apples"])
    assert r.exit_code == 2
    with pytest.raises(OptionError) as e:
        RunOptions(memory_limit="12 apples")
    assert r.stderr.startswith(f"error: --memory-limit: {e.value.reason}")


def test_a_run_is_the_options_applied_to_its_config():
    cfg = load_config(None)
    run_cfg, years, options = for_run(cfg, RunOptions(seed=9, years="2030-2031"), census=True)
    assert (run_cfg.scenario.seed, run_cfg.scenario.start_year, years) == (9, 2030, [2030, 2031])
    assert cfg.scenario.seed == 42  # the config itself is not changed
    assert for_run(cfg, RunOptions())[1] == cfg.years
    assert with_values(None, threads="3", seed=None) == RunOptions(threads=3)
    with pytest.raises(TypeError, match="unknown run option 'thread'"):
        with_values(None, thread=3)
