"""Station plugins: image sources, triggers and outputs.

Each plugin is a pydantic config class with ``type: Literal[...]`` plus an implementation; the
configs of a family form one discriminated union and every implementation meets that family's one
Protocol. ``dda.station.plugins.family`` keys each family's table by ``type`` and builds plugins
from configs; ``dda.station.plugins.registry`` lists them for the API.
"""
