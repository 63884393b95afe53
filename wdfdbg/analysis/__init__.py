"""Analysis: the streaming walk over decoded objects, triage rules and the
headline, aggregates over reports (usage, piling up, diff)."""
