"""API schemas (pydantic), separate from the ORM models in ``dda.station.db``."""
