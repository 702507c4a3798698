"""Jobs: one study (or one dosimetry, one ROI) from its input files to every output file.

A job loads its inputs, calls the library (``analysis``, ``dosimetry``, ``radiomics``), writes
its outputs atomically and returns a small result record; it reports its stages through a
``progress(stage)`` callback and prints nothing. The CLI, the demo and the cohort runner call
the jobs; the jobs never import the CLI.

- :mod:`nenscope.jobs.analyze` — ``nenscope analyze``: :func:`~nenscope.jobs.analyze.run_analysis`
- :mod:`nenscope.jobs.dosimetry` — ``nenscope dosimetry``:
  :func:`~nenscope.jobs.dosimetry.run_dosimetry`
- :mod:`nenscope.jobs.radiomics` — ``nenscope radiomics extract``:
  :func:`~nenscope.jobs.radiomics.roi_features`
- :mod:`nenscope.jobs._json` — JSON text of records holding NumPy values and datetimes
"""
