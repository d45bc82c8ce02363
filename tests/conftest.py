import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED = Path(os.environ.get("TINYRT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture
def shared_models():
    models = SHARED / "models"
    if not models.is_dir():
        pytest.skip(f"../shared/models not found at {models}: the MLPerf Tiny models are not available "
                    "(set TINYRT_SHARED to the shared folder)")
    return models
