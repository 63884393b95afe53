"""Colours per WDF object type, shared by the DOT graph and the HTML report
so that a type looks the same in both (light fills, readable with dark text;
the HTML report's dark theme dims them with CSS)."""

import zlib

TYPE_COLOURS = {
    "WDFDRIVER": "#bcd4f0",
    "WDFDEVICE": "#a9cce3",
    "WDFQUEUE": "#bfe3c0",
    "WDFREQUEST": "#f9d1a8",
    "WDFMEMORY": "#f8e79a",
    "WDFLOOKASIDE": "#dccbf5",
    "WDFOBJECT": "#dddddd",
    "WDFWORKITEM": "#cde7e4",
    "WDFSYSTEMWORKITEM": "#cde7e4",
    "WDFSPINLOCK": "#efd5e3",
    "WDFWAITLOCK": "#efd5e3",
    "WDFIOTARGET": "#d7e3bf",
    "WDFCOMMONBUFFER": "#f3dcc4",
}

_OTHERS = ["#d9e6f2", "#e8dff0", "#dff0e0", "#f2e6d9", "#e0ecef", "#f0e0e6", "#e6e6cc", "#dde2f7"]

PROBLEM = "#c00000"


def type_colour(wdf_type):
    """A fill colour for a DDI type name (unknown types: a stable pick)."""
    if wdf_type in TYPE_COLOURS:
        return TYPE_COLOURS[wdf_type]
    key = (wdf_type or "unknown").encode("utf-8")
    return _OTHERS[zlib.crc32(key) % len(_OTHERS)]
