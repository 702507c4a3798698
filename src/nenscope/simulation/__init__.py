"""The virtual NET patient and PET/SPECT scanner simulator (DESIGN §5).

Public API (see docs/simulation.md)::

    from nenscope.simulation import SimulationConfig, simulate_study, write_study
    sim = simulate_study(SimulationConfig(tracer="68Ga-DOTATATE", n_lesions=5, seed=1))
    write_study(sim, "out/")
"""
