"""Choose a built-in profile by probing memory when the OS build is unknown.

The 1607 and later profiles differ in where ``FxLibraryGlobals`` keeps the
driver globals list (0x1D8 or 0x1E0) and where ``FX_DRIVER_GLOBALS`` keeps
``Driver`` (0x48 or 0x50): a candidate wins when its list links back and
its ``Driver`` pointer lands on an object of type FX_TYPE_DRIVER.
"""

from wdfdbg.errors import ReadError
from wdfdbg.layouts.profiles import PROFILES, choose_profile


def probe_profile(target):
    cands = [p for p in PROFILES if p.arch == target.arch]
    if not cands:
        return choose_profile(target.arch)
    lib = target.symbol("Wdf01000!FxLibraryGlobals")
    if lib is None:
        return choose_profile(target.arch)
    best = None
    for p in cands:
        score = _score(target, p, lib)
        if score > 0 and (best is None or score > best[0]):
            best = (score, p)
    return best[1] if best else choose_profile(target.arch)


def _score(target, profile, lib):
    from wdfdbg.layouts import IsfSource
    from wdfdbg.layouts.model import TypeCompiler
    docs = profile.documents()
    comp = TypeCompiler(IsfSource(docs["Wdf01000"]), profile.pointer_size, profile.label())
    try:
        lgt = comp.compile("FxLibraryGlobalsType")
        glt = comp.compile("_FX_DRIVER_GLOBALS")
        obj = comp.compile("FxObject")
        head = lib + lgt.offset("FxDriverGlobalsList")
        flink = target.read_pointer(head)
        if flink == head or flink == 0:
            return 0
        if target.read_pointer(flink + target.pointer_size) != head:
            return 0
        score = 1
        driver = target.read_pointer(flink + glt.offset("Driver"))
        if driver and target.read_u16(driver + obj.offset("m_Type")) == 0x1001:
            score += 2
            if target.read_pointer(driver + obj.offset("m_Globals")) == flink:
                score += 2
        return score
    except (ReadError, Exception):  # probing must never fail the analysis
        return 0
