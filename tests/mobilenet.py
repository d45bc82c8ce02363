"""The MobileNetV2-style model builder lives in the package (tinyrt/mobilenet.py)."""
from tinyrt.mobilenet import BLOCKS, mobilenet_v2  # noqa: F401
