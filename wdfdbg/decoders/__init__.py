"""Decoders: pure functions over a Session (target + layouts). They never
import pykd and never raise on bad memory: they record problems and go on."""
