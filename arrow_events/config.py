"""Scenario and plan-design configuration: DOMAIN.md defaults, TOML in and out.

Every number the SQL uses lives here and reaches the queries as a small Arrow
table (see ``arrow_events.engine.params``), never as text pasted into SQL.

Each section is a pydantic model: its defaults are the contract, its field
constraints and validators the rules, and ``config_from_dict`` turns the first
rule broken into one line naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import reprlib
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import tomli_w
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic.fields import FieldInfo

from arrow_events.errors import UserError, unknown_key
from arrow_events.options import OptionError, RunOptions, parse_size


class Say(str):
    """Field metadata: the words for a broken range or length, where the bounds alone say too little."""


class _Rule(ValueError):
    """A validator's broken rule: (message, the key of the model it is about, or None)."""


def _require(ok: bool, key: str | None, message: str) -> None:
    if not ok:
        raise _Rule(message, key)


def _md(value: str) -> tuple[int, int]:
    m, d = value.split("-")
    return int(m), int(d)


def _month_day(value: str) -> str:
    try:
        datetime.strptime(f"2001-{value}", "%Y-%m-%d")  # not a leap year
    except ValueError:
        raise _Rule(f"expected a month-day like \"02-01\" (Feb 29 not allowed), got {_show(value)}", None) from None
    return value


def _bands(lower: list[int], key: str | None, **columns: list[float]) -> None:
    _require(len(lower) > 0 and lower[0] == 0, key, "lower must start at 0")
    _require(all(a < b for a, b in zip(lower, lower[1:])), key, "lower must be strictly increasing")
    for name, values in columns.items():
        _require(len(values) == len(lower), key,
                 f"{name} needs {len(lower)} values (one per band), got {len(values)}")


Rate = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
MonthDay = Annotated[str, AfterValidator(_month_day)]
_ONE_PER_LEVEL = Say("needs exactly 5 values, one per level 1..5")
PerLevel = Annotated[list[float], Field(min_length=5, max_length=5), _ONE_PER_LEVEL]
RatePerLevel = Annotated[list[Rate], Field(min_length=5, max_length=5), _ONE_PER_LEVEL]
Dollars = Annotated[float, Field(ge=0, le=100_000_000)]
# hours in a year: at most 366 days x 24
Hours = Annotated[float, Field(ge=0, le=8_784)]
# a census row without scheduled_hours_per_week, and every hire, works this many hours a week
STANDARD_WEEKLY_HOURS = 40.0


class _Model(BaseModel):
    # TOML's types exactly: true/false only for booleans, whole numbers (not booleans) for ints, numbers
    # (ints taken as floats) for floats, no NaN or infinity; an unknown key is refused
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Scenario(_Model):
    scenario_id: str = Field("baseline", min_length=1)
    # the scenario's name in a sweep (its folder runs/<name>/ and the distribution's scenario column); "":
    # the config file's name. scenario_id, on every output row, is unchanged by it.
    name: Annotated[str, Say("must be empty, or letters, digits and . _ - = , + (a folder's name)")] = Field(
        "", pattern=r"^([A-Za-z0-9][A-Za-z0-9._=,+-]*)?$", max_length=100)
    seed: Annotated[int, Say("must fit in a signed 64-bit integer")] = Field(42, ge=-(2**63), lt=2**63)
    start_year: Annotated[int, Say("must be a year between 1900 and 2200")] = Field(2025, ge=1900, le=2200)
    years: int = Field(5, ge=1, le=50)
    growth: Annotated[float, Say("|growth| must be <= 1")] = Field(0.03, ge=-1, le=1)
    termination_rate: Rate = 0.12
    new_hire_termination_rate: Rate = 0.25
    cola: Rate = 0.02
    promotion_date: MonthDay = "02-01"
    promotion_base_rate: Rate = 0.04
    promotion_raise: Rate = 0.20
    promotion_raise_spread: Rate = 0.05
    promotion_raise_cap: Rate = 0.30
    promotion_max_age: int = 65
    merit_date: MonthDay = "07-15"
    hire_pay_spread: float = Field(0.10, ge=0, lt=1)

    @model_validator(mode="after")
    def _solvable_and_in_order(self) -> Scenario:
        _require(1.0 - self.new_hire_termination_rate > 0.01, "new_hire_termination_rate",
                 f"must be below 0.99 (the hiring solver divides by 1 - rate), got {self.new_hire_termination_rate}")
        _require(_md(self.promotion_date) <= _md(self.merit_date), "merit_date",
                 "must be on or after promotion_date (merit applies to the pay after any promotion)")
        return self


class Levels(_Model):
    """Job levels 1..5; pay ranges are half-open [pay_min, pay_max)."""

    pay_min: PerLevel = [40_000.0, 80_000.0, 120_000.0, 160_000.0, 275_000.0]
    pay_max: PerLevel = [80_000.0, 120_000.0, 160_000.0, 275_000.0, 500_000.0]
    hire_pay_position: RatePerLevel = [0.25, 0.30, 0.35, 0.40, 0.45]
    merit_rate: RatePerLevel = [0.035, 0.040, 0.045, 0.050, 0.055]
    # DOMAIN.md: max(0.4, 1 - 0.1(level-1)) and max(0, 1 - 0.15(level-1)), tabulated
    termination_mult: PerLevel = [1.0, 0.9, 0.8, 0.7, 0.6]
    promotion_mult: PerLevel = [1.0, 0.85, 0.70, 0.55, 0.40]

    @model_validator(mode="after")
    def _ranges_ascend(self) -> Levels:
        _require(all(a < b for a, b in zip(self.pay_min, self.pay_max)), "pay_max",
                 "each pay_max must exceed its pay_min")
        _require(all(a <= b for a, b in zip(self.pay_max, self.pay_min[1:])), "pay_min", "level ranges must ascend")
        return self


class _Bands(_Model):
    @model_validator(mode="after")
    def _one_per_band(self) -> _Bands:
        _bands(self.lower, None, termination_mult=self.termination_mult, promotion_mult=self.promotion_mult)
        return self


class TenureBands(_Bands):
    """Bands by whole years of service at Jan 1; band i is [lower[i], lower[i+1])."""

    lower: list[int] = [0, 2, 5, 10, 20]
    termination_mult: list[NonNegative] = [1.8, 0.6, 0.5, 0.4, 0.3]
    promotion_mult: list[NonNegative] = [0.5, 1.5, 1.8, 0.8, 0.2]


class AgeBands(_Bands):
    lower: list[int] = [0, 25, 35, 45, 55, 65]
    termination_mult: list[NonNegative] = [0.7, 1.3, 1.0, 1.6, 1.0, 1.2]
    promotion_mult: list[NonNegative] = [1.6, 1.4, 1.1, 0.7, 0.3, 0.1]


class HireAges(_Model):
    ages: list[Annotated[int, Field(ge=16, le=80)]] = [22, 25, 28, 32, 35, 40, 45, 50]
    weights: list[NonNegative] = [0.05, 0.15, 0.20, 0.25, 0.15, 0.10, 0.08, 0.02]

    @model_validator(mode="after")
    def _one_weight_per_age(self) -> HireAges:
        _require(len(self.ages) == len(self.weights) and len(self.ages) > 0, None,
                 "ages and weights need the same, non-zero, length")
        _require(sum(self.weights) > 0, "weights", "weights must be >= 0, sum > 0")
        return self


class MeritPerformance(_Model):
    """u_merit below upper[i] (and above the previous) gives multiplier[i]."""

    upper: list[float] = [0.10, 0.80, 1.0]
    multiplier: list[float] = [0.0, 1.0, 1.5]

    @model_validator(mode="after")
    def _boundaries(self) -> MeritPerformance:
        up = self.upper
        _require(len(up) == len(self.multiplier) and len(up) > 0, None, "upper and multiplier need the same length")
        _require(all(a < b for a, b in zip(up, up[1:])) and up[-1] == 1.0, "upper",
                 "must increase strictly and end at 1.0")
        _require(0.0 < up[0] and all(b - a >= 1e-6 for a, b in zip(up, up[1:])), "upper",
                 "boundaries must be above 0 and at least 0.000001 apart")
        return self


class MatchTier(_Model):
    """match_rate x the part of the deferral rate in [employee_min, employee_max)."""

    employee_min: float
    employee_max: float
    match_rate: float = Field(ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> MatchTier:
        _require(0.0 <= self.employee_min < self.employee_max <= 1.0, None,
                 "needs 0 <= employee_min < employee_max <= 1")
        return self


class PlanDesign(_Model):
    plan_design_id: str = Field("standard", min_length=1)
    min_age: int = Field(21, ge=0, le=100)
    waiting_days: int = Field(0, ge=0, le=3650)
    auto_enroll: bool = True
    auto_enroll_scope: Literal["new_hires", "all"] = "new_hires"
    auto_enroll_rate: Rate = 0.06
    auto_enroll_window_days: int = Field(45, ge=0, le=365)
    auto_enroll_first_date: MonthDay = "02-15"
    opt_out_window_days: int = Field(30, ge=0, le=365)
    opt_out_rate: Rate = 0.09
    opt_out_age_lower: list[int] = [0, 35, 45, 55]
    opt_out_age_mult: list[NonNegative] = [1.8, 1.1, 0.7, 0.4]
    voluntary_age_lower: list[int] = [0, 31, 46, 56]
    voluntary_first_year_rate: list[Rate] = [0.30, 0.55, 0.70, 0.80]
    voluntary_later_rate: list[Rate] = [0.03, 0.05, 0.07, 0.08]
    voluntary_deferral_rate: list[Rate] = [0.03, 0.05, 0.07, 0.09]
    match_ceiling: Rate = 0.06
    deferral_change_rate: Rate = 0.10
    deferral_change_date: MonthDay = "04-01"
    auto_escalation: bool = True
    escalation_step: Rate = 0.01
    escalation_cap: Rate = 0.10
    escalation_date: MonthDay = "01-01"
    # employer contributions (docs/model.md §7); defaults are the reference tool's
    match_tiers: list[MatchTier] = [MatchTier(employee_min=0.0, employee_max=0.06, match_rate=0.50)]
    max_match_percentage: Rate = 0.03  # of plan compensation
    match_requires_active_at_year_end: bool = True
    core_rate: Rate = 0.01  # non-elective, of plan compensation; 0 turns it off
    # hours of service credited in the year (census scheduled_hours_per_week x weeks employed) that the
    # match and the core require; 0: no requirement
    match_min_hours: Hours = 0.0
    core_min_hours: Hours = 0.0

    @model_validator(mode="after")
    def _dates_and_bands(self) -> PlanDesign:
        _require(_md(self.escalation_date) <= _md(self.deferral_change_date), "escalation_date",
                 "must be on or before deferral_change_date (rate changes compose escalation first)")
        _bands(self.opt_out_age_lower, "opt_out_age_lower", opt_out_age_mult=self.opt_out_age_mult)
        _bands(self.voluntary_age_lower, "voluntary_age_lower",
               voluntary_first_year_rate=self.voluntary_first_year_rate,
               voluntary_later_rate=self.voluntary_later_rate, voluntary_deferral_rate=self.voluntary_deferral_rate)
        return self


# indexed limits are rounded down to these multiples, in dollars (as the IRS rounds them)
_LIMIT_ROUNDING = {"deferral": 500, "catch_up": 500, "catch_up_60_63": 500, "compensation": 5_000}


class Limits(_Model):
    """IRS limits by calendar year, in dollars: 402(g) deferral, the age-50 catch-up, the larger
    catch-up at 60-63, the 401(a)(17) compensation limit. A year before the first listed uses the
    first; a year after the last grows the last by limit_growth a year, rounded down (see limits_for)."""

    year: Annotated[list[int], Say("needs at least one year")] = Field([2025, 2026], min_length=1)
    deferral: list[Dollars] = [23_500.0, 24_500.0]
    catch_up: list[Dollars] = [7_500.0, 8_000.0]
    catch_up_60_63: list[Dollars] = [11_250.0, 11_250.0]
    compensation: list[Dollars] = [350_000.0, 360_000.0]
    limit_growth: Rate = 0.025

    @model_validator(mode="after")
    def _one_value_per_year(self) -> Limits:
        _require(all(a < b for a, b in zip(self.year, self.year[1:])), "year", "years must increase strictly")
        for name in _LIMIT_ROUNDING:
            _require(len(getattr(self, name)) == len(self.year), name, f"needs one value per year ({len(self.year)})")
        return self


@dataclass
class YearLimits:
    """One year's limits, in cents."""

    deferral: int
    catch_up: int
    catch_up_60_63: int
    compensation: int


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


class Engine(_Model):
    """How a run executes; none of it changes a single output byte."""

    memory_limit: str = ""  # e.g. "1GB": DataFusion's memory pool, spilling to the temp directory

    @model_validator(mode="after")
    def _a_size(self) -> Engine:
        try:
            if self.memory_limit:
                parse_size(self.memory_limit)
        except OptionError as e:
            raise _Rule(e.reason, "memory_limit") from None
        return self


class Config(_Model):
    scenario: Scenario = Scenario()
    levels: Levels = Levels()
    tenure_bands: TenureBands = TenureBands()
    age_bands: AgeBands = AgeBands()
    hire_ages: HireAges = HireAges()
    merit_performance: MeritPerformance = MeritPerformance()
    plan_designs: Annotated[list[PlanDesign], Say("must be a non-empty array of tables ([[plan_designs]])")] = Field(
        [PlanDesign()], min_length=1)
    limits: Limits = Limits()
    engine: Engine = Engine()
    # where the config came from, and the keys it set itself ("scenario.start_year"): not part of the scenario
    _source: str = PrivateAttr("defaults")
    _explicit: frozenset[str] = PrivateAttr(frozenset())

    @model_validator(mode="after")
    def _distinct_designs(self) -> Config:
        ids = [d.plan_design_id for d in self.plan_designs]
        _require(len(set(ids)) == len(ids), "plan_designs", f"duplicate plan_design_id in {ids}")
        return self

    def __eq__(self, other: object) -> bool:  # the scenario, not where it came from
        return type(other) is type(self) and self.__dict__ == other.__dict__

    @property
    def source(self) -> str:
        return self._source

    @property
    def explicit(self) -> frozenset[str]:
        return self._explicit

    @property
    def hours_of_service(self) -> bool:
        """Whether a plan design requires hours of service for its match or core: then the snapshot carries
        each employee's scheduled hours from year to year (docs/model.md §7)."""
        return any(d.match_min_hours > 0 or d.core_min_hours > 0 for d in self.plan_designs)

    @property
    def memory_limit_bytes(self) -> int | None:
        return parse_size(self.engine.memory_limit) if self.engine.memory_limit else None

    @property
    def years(self) -> list[int]:
        return list(range(self.scenario.start_year, self.scenario.start_year + self.scenario.years))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def digest(self) -> str:
        """sha256 of the config as canonical JSON (sorted keys, no spaces), [engine] left out (it changes
        no output byte): independent of how TOML is written."""
        text = json.dumps(self.model_dump(exclude={"engine"}), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_scenario(self, **changes: Any) -> Config:
        """A copy with these [scenario] values, checked like a file's."""
        try:
            scenario = Scenario.model_validate({**self.scenario.model_dump(), **changes})
        except ValidationError as e:
            raise _user_error(e, self.source, ("scenario",)) from None
        return self.model_copy(update={"scenario": scenario})


def config_from_dict(data: dict[str, Any], source: str = "config") -> Config:
    if isinstance(data, dict) and "sweep" in data:  # read by sweep.py, which takes it out first
        raise UserError(f"{source}: [sweep] makes one scenario per value, for arrow-events sweep only; "
                        "remove it to use the config alone")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise _user_error(e, source) from None
    cfg._source = source
    cfg._explicit = frozenset(f"{section}.{key}" for section, table in data.items() if isinstance(table, dict)
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
            f"years: the run starts in {first_year}, but {cfg.source} sets [scenario].start_year = {start}, and a "
            f"census is the workforce at the end of the year before the start: run "
            f"years={start}-{max(first_year, start)}, or remove start_year from {cfg.source} to start the census "
            f"in {first_year}")
    if not 1900 <= first_year <= 2200:
        raise UserError(f"years: must start in a year between 1900 and 2200, got {first_year}")
    return cfg.with_scenario(start_year=first_year)


def load_config(path: str | Path | None) -> Config:
    """Defaults, overlaid with the TOML file at ``path`` when given."""
    return config_from_dict({}, "defaults") if path is None else config_from_dict(read_toml(path), str(path))


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
    except RecursionError:
        raise UserError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None


def dump_toml(cfg: Config) -> str:
    """The effective config as TOML that ``load_config`` reads back unchanged."""
    return tomli_w.dumps(cfg.to_dict())


# -- pydantic's first error as one line -----------------------------------------------------------

_MESSAGES = {  # by pydantic's error type; a field's Say words its lengths and bounds instead
    "bool_type": "expected true or false, got {got}", "int_type": "expected a whole number, got {got}",
    "float_type": "expected a number, got {got}", "string_type": "expected a string, got {got}",
    "list_type": "expected a list, got {got}", "model_type": "expected a table, got {got}",
    "finite_number": "must be a finite number, got {got}", "literal_error": "must be {expected}, got {got}",
    "string_too_short": "must not be empty", "too_short": "needs at least {min_length} values, got {actual_length}",
    "too_long": "needs at most {max_length} values, got {actual_length}"}
_SHOW = reprlib.Repr()  # the input may be huge or deeply nested: shown cut short
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict = 3, 60, 60, 6, 4
_show = _SHOW.repr


def _user_error(err: ValidationError, source: str, prefix: tuple[str | int, ...] = ()) -> UserError:
    errors = err.errors(include_url=False)
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo before what it left out
    kind, ctx, loc, got = first["type"], first.get("ctx", {}), prefix + first["loc"], _show(first.get("input"))
    owner, constraints, target = _walk(loc)
    said = next((m for m in constraints if isinstance(m, Say)), None)
    if kind == "extra_forbidden":
        return unknown_key(str(loc[-1]), list(owner.model_fields), _where(source, loc[:-1]))
    if kind == "missing":
        names = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"][:-1] == first["loc"][:-1]]
        return UserError(f"{_where(source, loc[:-1])}: missing {', '.join(names)}")
    if kind == "value_error":  # a validator's rule, maybe naming the key it is about
        message, key = (*ctx["error"].args, None)[:2]
        loc += (key,) if key else ()
    elif kind == "model_type" and target is MatchTier:
        message = f"expected an inline table {{ {' = ..., '.join(MatchTier.model_fields)} = ... }}, got {got}"
    elif kind in ("too_short", "too_long") and said:
        message = said
    elif kind in _MESSAGES:
        message = _MESSAGES[kind].format(got=got, **ctx)
    else:  # a bound broken
        message = f"{said or _range(constraints) or first['msg']}, got {got}"
    return UserError(f"{_where(source, loc)}: {message}")


def _where(source: str, loc: tuple[str | int, ...]) -> str:
    """'plan.toml: [scenario].years', 'plan.toml: plan_designs[1].match_tiers[0]', 'plan.toml'."""
    if not loc:
        return source
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return f"{source}: {loc[0] if loc[0] == 'plan_designs' else f'[{loc[0]}]'}{path}"


def _walk(loc: tuple[str | int, ...]) -> tuple[Any, list[Any], Any]:
    """Along ``loc`` from Config: the model holding its last key, the constraints on what it ends at
    (a field, or an item of a list field), and that's type."""
    model, field, item = Config, None, False
    for part in loc:
        if isinstance(part, int):
            item = True
            continue
        if field is not None:
            model = get_args(field.annotation)[0] if get_origin(field.annotation) is list else field.annotation
        field, item = model.model_fields.get(part), False
    if field is None:
        return model, [], model
    if not item:
        return model, field.metadata, field.annotation
    inner = get_args(field.annotation)[0]  # the list's item type: Annotated[float, FieldInfo(...)], a model, int
    meta = [x for m in get_args(inner)[1:] for x in (m.metadata if isinstance(m, FieldInfo) else [m])]
    return model, meta, inner


def _range(constraints: list[Any]) -> str:
    """'must be between 0 and 1', 'must be in [0, 1)', 'must be >= 0'."""
    b = {k: f"{v:,}" if abs(v) >= 100_000 else f"{v}"
         for m in constraints for k in ("ge", "gt", "le", "lt") if (v := getattr(m, k, None)) is not None}
    if "ge" in b and "le" in b:
        return f"must be between {b['ge']} and {b['le']}"
    if "ge" in b and "lt" in b:
        return f"must be in [{b['ge']}, {b['lt']})"
    return " and ".join(f"must be {op} {b[k]}" for k, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
                        if k in b)


def for_run(cfg: Config, options: RunOptions, census: bool = False) -> tuple[Config, list[int], RunOptions]:
    """The config, years and options of a run: the ``seed`` option applied, ``years`` defaulted to the
    scenario's, the config's [engine].memory_limit used when the ``memory_limit`` option is not set, and,
    with a census, the first year made the start year (``census_start``)."""
    if options.seed is not None:
        cfg = cfg.with_scenario(seed=options.seed)
    years = list(options.years) if options.years else cfg.years
    if census:
        cfg = census_start(cfg, years[0])
    if options.memory_limit is None and cfg.memory_limit_bytes is not None:
        options = options.replace(memory_limit=cfg.memory_limit_bytes)
    return cfg, years, options
