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


_VALIDATOR = []


def _validator():
    """The shipped schema compiled once with fastjsonschema (jsonschema
    takes ~1 ms per object record; the leak fixture has 10,003). The schema
    itself is checked against the 2020-12 metaschema by jsonschema in
    test_report_schema.py, and small reports are validated by both."""
    if not _VALIDATOR:
        import fastjsonschema
        from wdfdbg.render.report import load_schema
        schema = load_schema()
        schema["$schema"] = "http://json-schema.org/draft-07/schema#"  # same keywords; fastjsonschema's dialect
        _VALIDATOR.append(fastjsonschema.compile(schema))
    return _VALIDATOR[0]


def validate_report(doc):
    """Validate a JSON report against the shipped schema."""
    _validator()(doc)
    if len(doc.get("objects") or ()) <= 200:
        import jsonschema
        from wdfdbg.render.report import load_schema
        jsonschema.validate(doc, load_schema())
    return doc


def pytest_terminal_summary(terminalreporter):
    """The fuzz campaign's seed and budget (tests/test_fuzz_campaign.py)."""
    from hostile import summary_lines
    for line in summary_lines():
        terminalreporter.write_line(line)


# Tests see real tracebacks instead of the CLI's one-line internal error.
os.environ.setdefault("WDFDBG_DEBUG", "1")
