"""Benchmark: the PDB reader (``wdfdbg/sources/pdb``) on a PDB of many types.

Writes a C++ file of N classes (each derived from a base with a vtable,
with a union, a bitfield, an enum member and an array: the record kinds a
real Wdf01000.pdb or ntkrnlmp.pdb is made of), builds it with clang and
lld-link (Debian's clang and lld), then prints

* the PDB's size and its type-record count (llvm-pdbutil's count when the
  tool is there);
* the seconds ``read_pdb`` takes (MSF, TPI records, publics, the whole ISF
  document with every class flattened), best of 3, and records per second.

    python benchmarks/bench_pdb.py [--classes 5000] [--pdb FILE]

``--pdb FILE`` times an existing PDB instead (e.g. a real ntkrnlmp.pdb).
ntkrnlmp.pdb has some 200,000 type records: divide by the records per second
printed to estimate its cost.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wdfdbg.sources.pdb import read_pdb  # noqa: E402
from wdfdbg.sources.pdb.msf import MsfFile  # noqa: E402
from wdfdbg.sources.pdb.tpi import TypeStream  # noqa: E402


def source(n):
    out = ["struct Base { virtual ~Base(); unsigned long long m_Base; };", "Base::~Base() {}",
           "enum Kind { KindA, KindB, KindC };"]
    for i in range(n):
        out.append("struct C%d : Base { ~C%d() override; union { void* p; unsigned long u; } m_U; "
                   "unsigned short m_Flags : 3; unsigned short m_More : 13; Kind m_Kind; unsigned char m_Bytes[%d]; };"
                   % (i, i, 1 + i % 64))
        out.append("C%d::~C%d() {}" % (i, i))
    out.append('void operator delete(void*) noexcept {}\nvoid operator delete(void*, unsigned long long) noexcept {}')
    out.append('extern "C" int f() { return 0; }')
    return "\n".join(out)


def build(n, folder):
    if not (shutil.which("clang") and shutil.which("lld-link")):
        sys.exit("needs clang and lld-link (apt-get install clang lld)")
    cpp = os.path.join(folder, "many.cpp")
    with open(cpp, "w") as f:
        f.write(source(n))
    obj = os.path.join(folder, "many.obj")
    subprocess.run(["clang", "--target=x86_64-pc-windows-msvc", "-fno-rtti", "-fstandalone-debug", "-g", "-gcodeview", "-c", cpp, "-o", obj],
                   check=True)
    pdb = os.path.join(folder, "many.pdb")
    subprocess.run(["lld-link", "/nologo", "/debug", "/dll", "/noentry", "/nodefaultlib",
                    "/out:" + os.path.join(folder, "many.sys"), "/pdb:" + pdb, obj, "/export:f"], check=True)
    return pdb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=5000)
    ap.add_argument("--pdb", default=None)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="wdfdbg-bench-pdb-")
    try:
        pdb = args.pdb or build(args.classes, folder)
        with open(pdb, "rb") as f:
            data = f.read()
        types = TypeStream(MsfFile(data).stream(2))
        print("PDB: %s, %d bytes, %d type records (%d of kinds the reader skips)"
              % (os.path.basename(pdb), len(data), types.count, types.skipped))
        best = whole = None
        for _ in range(3):
            t = time.perf_counter()
            info = read_pdb(pdb)
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
            t = time.perf_counter()
            doc = info.isf
            dt = time.perf_counter() - t
            whole = dt if whole is None else min(whole, dt)
        print("read_pdb (identity, type records, publics; types flattened when asked): %.3f s, best of 3; "
              "%.0f type records per second" % (best, types.count / best))
        print("the whole ISF document on top (every type flattened, as a types file would hold): %.3f s: "
              "%d user types, %d enums, %d publics" % (whole, len(doc["user_types"]), len(doc["enums"]),
                                                       len(info.publics)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
