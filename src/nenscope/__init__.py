"""nenscope: molecular imaging of neuroendocrine neoplasms.

Sub-packages follow the flow of the job (see ``docs/architecture.md``):

- :mod:`nenscope.knowledge`  radionuclides, tracer catalogue, protocol advice
- :mod:`nenscope.imaging`    DICOM discovery and loading, QIBA SUV, masks
- :mod:`nenscope.simulation` virtual NET patient and PET/SPECT scanner
- :mod:`nenscope.analysis`   reference regions, lesions, scores, response
- :mod:`nenscope.radiomics`  IBSI-1 features and IBSI-2 filters
- :mod:`nenscope.dosimetry`  PRRT kinetics, S-values, voxel dose, BED
- :mod:`nenscope.report`     HTML report and figures
"""

__version__ = "0.1.0"

from nenscope.errors import NenscopeError

__all__ = ["NenscopeError", "__version__"]
