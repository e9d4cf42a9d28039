"""The station's ORM models (separate from the API schemas in ``dda.station.schemas``)."""

from dda.station.db.models import ApiToken, Base, Capture, ImageSource, InferenceResult, User, Workflow

__all__ = ["ApiToken", "Base", "Capture", "ImageSource", "InferenceResult", "User", "Workflow"]
