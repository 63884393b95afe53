import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DUMPS = os.path.join(SHARED, "dumps")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def fixture_path(name):
    return os.path.join(FIXTURES, name)


@pytest.fixture
def schema():
    from wdfdbg.render.report import load_schema
    return load_schema()


def validate_report(doc):
    """Validate a JSON report against the shipped schema."""
    import jsonschema
    from wdfdbg.render.report import load_schema
    jsonschema.validate(doc, load_schema())
    return doc


# Tests see real tracebacks instead of the CLI's one-line internal error.
os.environ.setdefault("WDFDBG_DEBUG", "1")
