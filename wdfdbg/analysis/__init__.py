"""Analysis: problems found while decoding, and triage rules over reports."""
