"""Sources of the Triton Python-backend models that every package ships.

These files are copied into packages as ``marshal_<m>/1/model.py`` and ``post_<m>/1/model.py``;
they run inside a Triton server (which provides ``triton_python_backend_utils``) and are never
imported by DDA itself. The post-processing model imports ``dda_postprocess``, a verbatim copy of
:mod:`dda.runtime.postprocess` placed next to it, so Triton and the station decide identically.
"""

from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
MARSHAL_SOURCE = SOURCE_DIR / "marshal_model.py"
POST_SOURCE = SOURCE_DIR / "post_model.py"
