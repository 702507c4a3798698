"""Web service: FastAPI app over the results store, analysis jobs, review, sign-off, viewer.

``nenscope serve`` runs :func:`create_app` with :class:`Settings` under uvicorn.
"""

from nenscope.service.app import create_app
from nenscope.service.settings import Settings

__all__ = ["Settings", "create_app"]
