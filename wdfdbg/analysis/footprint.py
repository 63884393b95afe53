"""What one object record holds: its bytes and its pool tag.

The HTML report's treemap and ``wdfdbg diff`` add these up per driver,
object type and pool tag, from report records
(``shared/spec/report-json.md``), so both count the same way:

* an object's bytes are its FxObject allocation (``object_size``, which for
  an inline FxMemoryBuffer already spans the buffer behind the object) plus,
  for a WDFMEMORY whose buffer the object's creation allocated (origin
  ``pool``, ``pool-lookaside``, ``lookaside``, ``inline``) and that lies
  outside the object's own allocation, the buffer's ``length``. A
  ``preallocated`` buffer belongs to the driver image and a ``request``
  buffer to the I/O manager's IRP: neither is the object's to free.
* its pool tag is the WDFMEMORY's ``memory.pool_tag`` (the nt pool header of
  the buffer's block), else ``None``: wdfdbg does not guess the tag of an
  object's own allocation.
"""

OWNED_ORIGINS = ("pool", "pool-lookaside", "lookaside", "inline")


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _hex(v):
    try:
        return int(v, 16) if isinstance(v, str) else None
    except ValueError:
        return None


def owned_bytes(rec):
    """Bytes the object of report record ``rec`` holds (0 when unknown)."""
    size = _int(rec.get("object_size"))
    mem = rec.get("memory")
    if not isinstance(mem, dict) or mem.get("origin") not in OWNED_ORIGINS:
        return size
    length = _int(mem.get("length"))
    buf = _hex(mem.get("buffer"))
    base = _hex(rec.get("address"))
    if buf is not None and base is not None and base <= buf < base + size:
        return size  # the buffer sits inside the object's own allocation
    return size + length


def pool_tag(rec):
    """The pool tag of a WDFMEMORY's buffer, else None."""
    mem = rec.get("memory")
    if isinstance(mem, dict):
        tag = mem.get("pool_tag")
        if isinstance(tag, str) and tag:
            return tag
    return None
