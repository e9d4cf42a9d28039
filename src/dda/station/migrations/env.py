from dda.core.db import run_migrations
from dda.station.db.models import Base

run_migrations(Base.metadata)
