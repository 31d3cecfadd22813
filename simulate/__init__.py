"""Scenarios, sweeps and Monte Carlo over a prepared province (drgdip simulate).

Public API
----------
:func:`prepare_province`   read, check, day-care and group a province once
:func:`settle`             settle a prepared province under a policy (``settle_province`` = prepare + settle)
:func:`simulate`           the baseline, scenarios, sweeps and Monte Carlo draws: a :class:`SimulationResult`
:func:`load_scenarios`     a scenario file, validated against the base policy
:func:`apply_overrides`    a policy with keys set by dotted key path
:func:`perturb`            one case-mix draw of a province's stays (volume, remote stays, coding upshift)
"""

from drgdip.budget.pipeline import PreparedProvince, prepare_province
from drgdip.budget.pipeline import settle_prepared as settle
from drgdip.simulate.casemix import perturb
from drgdip.simulate.engine import SimulationResult, simulate
from drgdip.simulate.settlements import draw_province
from drgdip.simulate.output import format_simulation_summary, write_draw, write_simulation
from drgdip.simulate.scenarios import MonteCarlo, Scenario, ScenarioSpec, Sweep, apply_overrides, load_scenarios

__all__ = ["prepare_province", "settle", "PreparedProvince", "simulate", "SimulationResult", "draw_province",
           "load_scenarios", "apply_overrides", "Scenario", "Sweep", "MonteCarlo", "ScenarioSpec", "perturb",
           "write_simulation", "write_draw", "format_simulation_summary"]
