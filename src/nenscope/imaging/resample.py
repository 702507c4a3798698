"""Old import path of :func:`nenscope.imaging.resample_to`, kept while ``run.py`` uses it.

The function lives in :mod:`nenscope.imaging.geometry`; import it from ``nenscope.imaging``.
"""

from nenscope.imaging.geometry import resample_to

__all__ = ["resample_to"]
