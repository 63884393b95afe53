"""Renderers: text (tabulate tables, indented trees), DML, JSON."""
