"""The render API: FastAPI app (`app.py`) and who may use it (`auth.py`)."""

from nightcast.api.app import create_app

__all__ = ["create_app"]
