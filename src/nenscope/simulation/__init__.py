"""The virtual NET patient and PET/SPECT scanner simulator (DESIGN §5).

Public API (see docs/simulation.md)::

    from nenscope.simulation import SimulationConfig, simulate_study, write_study
    sim = simulate_study(SimulationConfig(tracer="68Ga-DOTATATE", n_lesions=5, seed=1))
    write_study(sim, "out/")

Modules: ``phantom`` (anatomy), ``lesions``, ``activity`` (uptake, 177Lu kinetics), ``nema``
(IEC body phantom, recovery coefficients), ``physics``, ``projector`` (sparse PET system
matrix), ``pet`` and ``spect`` (scanner models + OSEM), ``study`` (simulate_study),
``output`` (write_study), ``truth`` (manifest).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SimulatedStudy", "SimulationConfig", "simulate_study", "write_study"]


def __getattr__(name: str) -> Any:  # lazy: importing a submodule stays light
    if name in ("SimulatedStudy", "SimulationConfig", "simulate_study"):
        from nenscope.simulation import study

        return getattr(study, name)
    if name == "write_study":
        from nenscope.simulation.output import write_study

        return write_study
    raise AttributeError(name)
