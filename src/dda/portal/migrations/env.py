from dda.core.db import run_migrations
from dda.portal.database import VERSION_TABLE
from dda.portal.db import Base

run_migrations(Base.metadata, version_table=VERSION_TABLE)
