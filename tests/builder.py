"""The test model builder lives in the package (tinyrt/builder.py); tests import it from here."""
from tinyrt.builder import ModelBuilder  # noqa: F401
