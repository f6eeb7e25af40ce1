"""Scenario and plan-design configuration: DOMAIN.md defaults, TOML in and out.

Every number the SQL uses lives here and reaches the queries as a small Arrow
table (see ``arrow_events.engine.params``), never as text pasted into SQL.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arrow_events.errors import UserError


@dataclass
class Scenario:
    scenario_id: str = "baseline"
    seed: int = 42
    start_year: int = 2025
    years: int = 5
    growth: float = 0.03
    termination_rate: float = 0.12
    new_hire_termination_rate: float = 0.25
    cola: float = 0.02
    promotion_date: str = "02-01"
    promotion_base_rate: float = 0.04
    promotion_raise: float = 0.20
    promotion_raise_spread: float = 0.05
    promotion_raise_cap: float = 0.30
    promotion_max_age: int = 65
    merit_date: str = "07-15"
    hire_pay_spread: float = 0.10


@dataclass
class Levels:
    """Job levels 1..5; pay ranges are half-open [pay_min, pay_max)."""

    pay_min: list[float] = field(default_factory=lambda: [40_000.0, 80_000.0, 120_000.0, 160_000.0, 275_000.0])
    pay_max: list[float] = field(default_factory=lambda: [80_000.0, 120_000.0, 160_000.0, 275_000.0, 500_000.0])
    hire_pay_position: list[float] = field(default_factory=lambda: [0.25, 0.30, 0.35, 0.40, 0.45])
    merit_rate: list[float] = field(default_factory=lambda: [0.035, 0.040, 0.045, 0.050, 0.055])
    # DOMAIN.md: max(0.4, 1 - 0.1(level-1)) and max(0, 1 - 0.15(level-1)), tabulated
    termination_mult: list[float] = field(default_factory=lambda: [1.0, 0.9, 0.8, 0.7, 0.6])
    promotion_mult: list[float] = field(default_factory=lambda: [1.0, 0.85, 0.70, 0.55, 0.40])


@dataclass
class TenureBands:
    """Bands by whole years of service at Jan 1; band i is [lower[i], lower[i+1])."""

    lower: list[int] = field(default_factory=lambda: [0, 2, 5, 10, 20])
    termination_mult: list[float] = field(default_factory=lambda: [1.8, 0.6, 0.5, 0.4, 0.3])
    promotion_mult: list[float] = field(default_factory=lambda: [0.5, 1.5, 1.8, 0.8, 0.2])


@dataclass
class AgeBands:
    lower: list[int] = field(default_factory=lambda: [0, 25, 35, 45, 55, 65])
    termination_mult: list[float] = field(default_factory=lambda: [0.7, 1.3, 1.0, 1.6, 1.0, 1.2])
    promotion_mult: list[float] = field(default_factory=lambda: [1.6, 1.4, 1.1, 0.7, 0.3, 0.1])


@dataclass
class HireAges:
    ages: list[int] = field(default_factory=lambda: [22, 25, 28, 32, 35, 40, 45, 50])
    weights: list[float] = field(default_factory=lambda: [0.05, 0.15, 0.20, 0.25, 0.15, 0.10, 0.08, 0.02])


@dataclass
class MeritPerformance:
    """u_merit below upper[i] (and above the previous) gives multiplier[i]."""

    upper: list[float] = field(default_factory=lambda: [0.10, 0.80, 1.0])
    multiplier: list[float] = field(default_factory=lambda: [0.0, 1.0, 1.5])


@dataclass
class PlanDesign:
    plan_design_id: str = "standard"
    min_age: int = 21
    waiting_days: int = 0
    auto_enroll: bool = True
    auto_enroll_scope: str = "new_hires"
    auto_enroll_rate: float = 0.06
    auto_enroll_window_days: int = 45
    auto_enroll_first_date: str = "02-15"
    opt_out_window_days: int = 30
    opt_out_rate: float = 0.09
    opt_out_age_lower: list[int] = field(default_factory=lambda: [0, 35, 45, 55])
    opt_out_age_mult: list[float] = field(default_factory=lambda: [1.8, 1.1, 0.7, 0.4])
    voluntary_age_lower: list[int] = field(default_factory=lambda: [0, 31, 46, 56])
    voluntary_first_year_rate: list[float] = field(default_factory=lambda: [0.30, 0.55, 0.70, 0.80])
    voluntary_later_rate: list[float] = field(default_factory=lambda: [0.03, 0.05, 0.07, 0.08])
    voluntary_deferral_rate: list[float] = field(default_factory=lambda: [0.03, 0.05, 0.07, 0.09])
    match_ceiling: float = 0.06
    deferral_change_rate: float = 0.10
    deferral_change_date: str = "04-01"
    auto_escalation: bool = True
    escalation_step: float = 0.01
    escalation_cap: float = 0.10
    escalation_date: str = "01-01"
    # employer contributions (DOMAIN.md section 7); defaults are the reference tool's
    match_tiers: list[dict[str, float]] = field(
        default_factory=lambda: [{"employee_min": 0.0, "employee_max": 0.06, "match_rate": 0.50}])
    max_match_percentage: float = 0.03  # of plan compensation
    match_requires_active_at_year_end: bool = True
    core_rate: float = 0.01  # non-elective, of plan compensation; 0 turns it off


@dataclass
class Limits:
    """IRS limits by calendar year, in dollars: 402(g) deferral, the age-50 catch-up, the larger
    catch-up at 60-63, the 401(a)(17) compensation limit. A year before the first listed uses the
    first; a year after the last grows the last by limit_growth a year, rounded down (see limits_for)."""

    year: list[int] = field(default_factory=lambda: [2025, 2026])
    deferral: list[float] = field(default_factory=lambda: [23_500.0, 24_500.0])
    catch_up: list[float] = field(default_factory=lambda: [7_500.0, 8_000.0])
    catch_up_60_63: list[float] = field(default_factory=lambda: [11_250.0, 11_250.0])
    compensation: list[float] = field(default_factory=lambda: [350_000.0, 360_000.0])
    limit_growth: float = 0.025


@dataclass
class YearLimits:
    """One year's limits, in cents."""

    deferral: int
    catch_up: int
    catch_up_60_63: int
    compensation: int


# indexed limits are rounded down to these multiples, in dollars (as the IRS rounds them)
_LIMIT_ROUNDING = {"deferral": 500, "catch_up": 500, "catch_up_60_63": 500, "compensation": 5_000}


def limits_for(limits: Limits, year: int) -> YearLimits:
    """The limits in force in ``year``: as listed, else the nearest earlier listed year's grown by
    limit_growth for each year since (compounded, unrounded), rounded down to the IRS multiple."""
    known = [i for i, y in enumerate(limits.year) if y <= year]
    i = known[-1] if known else 0
    grow = (1.0 + limits.limit_growth) ** max(0, year - limits.year[i]) if known else 1.0
    cents = {}
    for name, step in _LIMIT_ROUNDING.items():
        dollars = getattr(limits, name)[i]
        if grow != 1.0:
            dollars = math.floor(dollars * grow / step + 1e-9) * step
        cents[name] = round(dollars * 100)
    return YearLimits(**cents)


@dataclass
class Engine:
    """How a run executes; none of it changes a single output byte."""

    memory_limit: str = ""  # e.g. "1GB": DataFusion's memory pool, spilling to the temp directory


@dataclass
class Config:
    scenario: Scenario = field(default_factory=Scenario)
    levels: Levels = field(default_factory=Levels)
    tenure_bands: TenureBands = field(default_factory=TenureBands)
    age_bands: AgeBands = field(default_factory=AgeBands)
    hire_ages: HireAges = field(default_factory=HireAges)
    merit_performance: MeritPerformance = field(default_factory=MeritPerformance)
    plan_designs: list[PlanDesign] = field(default_factory=lambda: [PlanDesign()])
    limits: Limits = field(default_factory=Limits)
    engine: Engine = field(default_factory=Engine)
    # where the config came from, and the keys it set itself ("scenario.start_year"): not part of the scenario
    source: str = field(default="defaults", compare=False, repr=False)
    explicit: frozenset[str] = field(default_factory=frozenset, compare=False, repr=False)

    @property
    def memory_limit_bytes(self) -> int | None:
        return parse_size(self.engine.memory_limit) if self.engine.memory_limit else None

    @property
    def years(self) -> list[int]:
        return list(range(self.scenario.start_year, self.scenario.start_year + self.scenario.years))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["source"], data["explicit"]
        return data

    def digest(self) -> str:
        """sha256 of the canonical TOML, [engine] left out (it changes no output byte)."""
        return hashlib.sha256(dump_toml(dataclasses.replace(self, engine=Engine())).encode()).hexdigest()


_SECTIONS = {
    "scenario": Scenario,
    "levels": Levels,
    "tenure_bands": TenureBands,
    "age_bands": AgeBands,
    "hire_ages": HireAges,
    "merit_performance": MeritPerformance,
    "limits": Limits,
    "engine": Engine,
}


def unknown_key(key: str, allowed: list[str], where: str) -> UserError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
    return UserError(f"{where}: unknown key '{key}'{hint}")


def _typed(value: Any, default: Any, where: str) -> Any:
    """Check a TOML value against the type of the dataclass default."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise UserError(f"{where}: expected a list, got {value!r}")
        item_default = default[0] if default else 0.0
        return [_typed(v, item_default, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(default, dict):  # an inline table with exactly the default's keys
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected an inline table {{ {', '.join(f'{k} = ...' for k in default)} }}, "
                            f"got {value!r}")
        for key in value:
            if key not in default:
                raise unknown_key(key, list(default), where)
        missing = [k for k in default if k not in value]
        if missing:
            raise UserError(f"{where}: missing {', '.join(missing)}")
        return {k: _typed(value[k], default[k], f"{where}.{k}") for k in default}
    raise AssertionError(f"unhandled default type at {where}")


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise UserError(f"{where}: expected a table")
    obj = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    for key, value in table.items():
        if key not in names:
            raise unknown_key(key, names, where)
        setattr(obj, key, _typed(value, getattr(obj, key), f"{where}.{key}"))
    return obj


def config_from_dict(data: dict[str, Any], source: str = "config") -> Config:
    cfg = Config()
    allowed = [*_SECTIONS, "plan_designs"]
    for key, value in data.items():
        if key == "sweep":  # read by sweep.py, which takes it out before building each scenario's config
            raise UserError(f"{source}: [sweep] makes one scenario per value, for arrow-events sweep only; "
                            "remove it to use the config alone")
        if key not in allowed:
            raise unknown_key(key, allowed, source)
        if key == "plan_designs":
            if not isinstance(value, list) or not value:
                raise UserError(f"{source}: plan_designs must be a non-empty array of tables ([[plan_designs]])")
            cfg.plan_designs = [_build(PlanDesign, t, f"{source}: plan_designs[{i}]") for i, t in enumerate(value)]
        else:
            setattr(cfg, key, _build(_SECTIONS[key], value, f"{source}: [{key}]"))
    validate(cfg, source)
    cfg.source = source
    cfg.explicit = frozenset(f"{section}.{key}" for section, table in data.items() if isinstance(table, dict)
                             for key in table)
    return cfg


def census_start(cfg: Config, first_year: int) -> Config:
    """The config for a run that starts from a census in ``first_year``.

    A census is the workforce at the end of the year before the first simulated one, so the
    first of --years is the start year, unless the config sets [scenario].start_year itself.
    """
    if first_year == cfg.scenario.start_year:
        return cfg
    if "scenario.start_year" in cfg.explicit:
        start = cfg.scenario.start_year
        raise UserError(
            f"--years starts in {first_year}, but {cfg.source} sets [scenario].start_year = {start}, and a census "
            f"is the workforce at the end of the year before the start: run --years {start}-{max(first_year, start)}"
            f", or remove start_year from {cfg.source} to start the census in {first_year}")
    _check(1900 <= first_year <= 2200, "--years", f"must start in a year between 1900 and 2200, got {first_year}")
    return dataclasses.replace(cfg, scenario=dataclasses.replace(cfg.scenario, start_year=first_year))


def load_config(path: str | Path | None) -> Config:
    """Defaults, overlaid with the TOML file at ``path`` when given."""
    if path is None:
        cfg = Config()
        validate(cfg, "defaults")
        return cfg
    return config_from_dict(read_toml(path), str(path))


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file's TOML, unchecked; errors name the file."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{p}: config file not found") from None
    except IsADirectoryError:
        raise UserError(f"{p}: config path is a directory, expected a TOML file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: config is not UTF-8 text (byte {e.start})") from None
    return _parse_toml(text, str(p))


def config_from_toml(text: str, source: str = "config") -> Config:
    """A Config from TOML text; errors name ``source`` as the command line names the file."""
    return config_from_dict(_parse_toml(text, source), source)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{source}: invalid TOML: {e}") from None


def parse_size(text: str) -> int:
    """'1GB', '512MB', '2GiB', '1500000000' -> bytes (decimal and binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise UserError(f"memory limit: expected a size like 1GB, 512MB or 2GiB, got {text!r}")
    number, unit = float(m.group(1)), (m.group(2) or "B").upper().rstrip("B")
    scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}[unit]
    size = int(number * scale)
    if size < 1 << 20:
        raise UserError(f"memory limit: {text!r} is below the 1 MiB minimum")
    return size


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise UserError(f"{where}: {message}")


def _month_day(value: str, where: str) -> None:
    parts = value.split("-")
    ok = len(parts) == 2 and all(p.isdigit() for p in parts)
    if ok:
        m, d = int(parts[0]), int(parts[1])
        ok = 1 <= m <= 12 and 1 <= d <= (29 if m == 2 else 30 if m in (4, 6, 9, 11) else 31)
        ok = ok and (m, d) != (2, 29)
    _check(ok, where, f"expected a month-day like \"02-01\" (Feb 29 not allowed), got {value!r}")


def _md(value: str) -> tuple[int, int]:
    m, d = value.split("-")
    return int(m), int(d)


def _rate(value: float, where: str) -> None:
    _check(0.0 <= value <= 1.0, where, f"must be between 0 and 1, got {value}")


def _bands(lower: list[int], where: str, *columns: tuple[str, list[Any]]) -> None:
    _check(len(lower) > 0 and lower[0] == 0, where, "lower must start at 0")
    _check(all(a < b for a, b in zip(lower, lower[1:])), where, "lower must be strictly increasing")
    for name, values in columns:
        _check(len(values) == len(lower), where, f"{name} needs {len(lower)} values (one per band), got {len(values)}")
        _check(all(v >= 0 for v in values), where, f"{name} values must be >= 0")


def validate(cfg: Config, source: str) -> None:
    """Reject configs the engine cannot honour, naming the key."""
    s = cfg.scenario
    w = f"{source}: [scenario]"
    _check(bool(s.scenario_id), f"{w}.scenario_id", "must not be empty")
    _check(1900 <= s.start_year <= 2200, f"{w}.start_year", f"must be a year between 1900 and 2200, got {s.start_year}")
    _check(1 <= s.years <= 50, f"{w}.years", f"must be between 1 and 50, got {s.years}")
    _check(abs(s.growth) <= 1.0, f"{w}.growth", f"|growth| must be <= 1, got {s.growth}")
    _rate(s.termination_rate, f"{w}.termination_rate")
    _rate(s.new_hire_termination_rate, f"{w}.new_hire_termination_rate")
    _check(
        1.0 - s.new_hire_termination_rate > 0.01,
        f"{w}.new_hire_termination_rate",
        f"must be below 0.99 (the hiring solver divides by 1 - rate), got {s.new_hire_termination_rate}",
    )
    for name in ("cola", "promotion_base_rate", "promotion_raise", "promotion_raise_spread", "promotion_raise_cap"):
        _rate(getattr(s, name), f"{w}.{name}")
    _check(0.0 <= s.hire_pay_spread < 1.0, f"{w}.hire_pay_spread", f"must be in [0, 1), got {s.hire_pay_spread}")
    _month_day(s.promotion_date, f"{w}.promotion_date")
    _month_day(s.merit_date, f"{w}.merit_date")
    _check(_md(s.promotion_date) <= _md(s.merit_date), f"{w}.merit_date",
           "must be on or after promotion_date (merit applies to the pay after any promotion)")
    _check(s.seed >= -(2**63) and s.seed < 2**63, f"{w}.seed", "must fit in a signed 64-bit integer")

    lv = cfg.levels
    w = f"{source}: [levels]"
    for name in ("pay_min", "pay_max", "hire_pay_position", "merit_rate", "termination_mult", "promotion_mult"):
        _check(len(getattr(lv, name)) == 5, f"{w}.{name}", "needs exactly 5 values, one per level 1..5")
    _check(all(a < b for a, b in zip(lv.pay_min, lv.pay_max)), f"{w}.pay_max", "each pay_max must exceed its pay_min")
    _check(all(a <= b for a, b in zip(lv.pay_max, lv.pay_min[1:])), f"{w}.pay_min", "level ranges must ascend")
    for name in ("hire_pay_position", "merit_rate"):
        for i, v in enumerate(getattr(lv, name)):
            _rate(v, f"{w}.{name}[{i}]")

    tb = cfg.tenure_bands
    _bands(tb.lower, f"{source}: [tenure_bands]", ("termination_mult", tb.termination_mult),
           ("promotion_mult", tb.promotion_mult))
    ab = cfg.age_bands
    _bands(ab.lower, f"{source}: [age_bands]", ("termination_mult", ab.termination_mult),
           ("promotion_mult", ab.promotion_mult))

    ha = cfg.hire_ages
    w = f"{source}: [hire_ages]"
    _check(len(ha.ages) == len(ha.weights) and ha.ages, w, "ages and weights need the same, non-zero, length")
    _check(all(16 <= a <= 80 for a in ha.ages), f"{w}.ages", "ages must be between 16 and 80")
    _check(all(x >= 0 for x in ha.weights) and sum(ha.weights) > 0, f"{w}.weights", "weights must be >= 0, sum > 0")

    mp = cfg.merit_performance
    w = f"{source}: [merit_performance]"
    _check(len(mp.upper) == len(mp.multiplier) and mp.upper, w, "upper and multiplier need the same length")
    _check(all(a < b for a, b in zip(mp.upper, mp.upper[1:])) and mp.upper[-1] == 1.0, f"{w}.upper",
           "must increase strictly and end at 1.0")
    _check(0.0 < mp.upper[0] and all(b - a >= 1e-6 for a, b in zip(mp.upper, mp.upper[1:])), f"{w}.upper",
           "boundaries must be above 0 and at least 0.000001 apart")

    if cfg.engine.memory_limit:
        try:
            parse_size(cfg.engine.memory_limit)
        except UserError as e:
            raise UserError(f"{source}: [engine].memory_limit: {str(e).split(': ', 1)[1]}") from None

    ids = [d.plan_design_id for d in cfg.plan_designs]
    _check(len(set(ids)) == len(ids), f"{source}: plan_designs", f"duplicate plan_design_id in {ids}")
    for i, d in enumerate(cfg.plan_designs):
        w = f"{source}: plan_designs[{i}]"
        _check(bool(d.plan_design_id), f"{w}.plan_design_id", "must not be empty")
        _check(0 <= d.min_age <= 100, f"{w}.min_age", f"must be between 0 and 100, got {d.min_age}")
        _check(0 <= d.waiting_days <= 3650, f"{w}.waiting_days", f"must be between 0 and 3650, got {d.waiting_days}")
        _check(d.auto_enroll_scope in ("new_hires", "all"), f"{w}.auto_enroll_scope",
               f"must be 'new_hires' or 'all', got {d.auto_enroll_scope!r}")
        _check(0 <= d.auto_enroll_window_days <= 365, f"{w}.auto_enroll_window_days", "must be between 0 and 365")
        _check(0 <= d.opt_out_window_days <= 365, f"{w}.opt_out_window_days", "must be between 0 and 365")
        for name in ("auto_enroll_rate", "opt_out_rate", "match_ceiling", "deferral_change_rate",
                     "escalation_step", "escalation_cap"):
            _rate(getattr(d, name), f"{w}.{name}")
        for name in ("auto_enroll_first_date", "deferral_change_date", "escalation_date"):
            _month_day(getattr(d, name), f"{w}.{name}")
        _check(_md(d.escalation_date) <= _md(d.deferral_change_date), f"{w}.escalation_date",
               "must be on or before deferral_change_date (rate changes compose escalation first)")
        _bands(d.opt_out_age_lower, f"{w}.opt_out_age_lower", ("opt_out_age_mult", d.opt_out_age_mult))
        _bands(d.voluntary_age_lower, f"{w}.voluntary_age_lower",
               ("voluntary_first_year_rate", d.voluntary_first_year_rate),
               ("voluntary_later_rate", d.voluntary_later_rate),
               ("voluntary_deferral_rate", d.voluntary_deferral_rate))
        for name in ("voluntary_first_year_rate", "voluntary_later_rate", "voluntary_deferral_rate"):
            for j, v in enumerate(getattr(d, name)):
                _rate(v, f"{w}.{name}[{j}]")
        for j, tier in enumerate(d.match_tiers):
            _check(0.0 <= tier["employee_min"] < tier["employee_max"] <= 1.0, f"{w}.match_tiers[{j}]",
                   "needs 0 <= employee_min < employee_max <= 1")
            _check(0.0 <= tier["match_rate"] <= 10.0, f"{w}.match_tiers[{j}].match_rate",
                   f"must be between 0 and 10, got {tier['match_rate']}")
        _rate(d.max_match_percentage, f"{w}.max_match_percentage")
        _rate(d.core_rate, f"{w}.core_rate")
    _check_limits(cfg.limits, f"{source}: [limits]")


def _check_limits(lim: Limits, w: str) -> None:
    _check(bool(lim.year), f"{w}.year", "needs at least one year")
    _check(all(a < b for a, b in zip(lim.year, lim.year[1:])), f"{w}.year", "years must increase strictly")
    for name in _LIMIT_ROUNDING:
        values = getattr(lim, name)
        _check(len(values) == len(lim.year), f"{w}.{name}", f"needs one value per year ({len(lim.year)})")
        _check(all(0 <= v <= 1e8 for v in values), f"{w}.{name}", "values must be between 0 and 100,000,000")
    _check(0.0 <= lim.limit_growth <= 1.0, f"{w}.limit_growth", f"must be in [0, 1], got {lim.limit_growth}")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def dump_toml(cfg: Config) -> str:
    """The effective config as TOML that ``load_config`` reads back unchanged."""
    out: list[str] = []
    data = cfg.to_dict()
    for section in _SECTIONS:
        out.append(f"[{section}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in data[section].items()]
        out.append("")
    for design in data["plan_designs"]:
        out.append("[[plan_designs]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in design.items()]
        out.append("")
    return "\n".join(out)
