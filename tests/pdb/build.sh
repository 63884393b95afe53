#!/bin/sh
# Builds the test images and PDBs in this folder from their C++ sources with
# Debian's clang and lld (apt-get install clang lld llvm). The outputs are
# committed beside their sources; rerun this after editing a source.
# /Brepro makes the timestamp and the PDB GUID a hash of the content, so a
# rebuild gives the same identity.
set -eu
cd "$(dirname "$0")"
for src in *.cpp; do
    name="${src%.cpp}"
    clang --target=x86_64-pc-windows-msvc -fno-rtti -fno-exceptions -g -gcodeview -O0 \
        -c "$src" -o "$name.obj"
    lld-link /nologo /debug /dll /noentry /nodefaultlib /Brepro \
        /out:"$name.sys" /pdb:"$name.pdb" /pdbaltpath:"$name.pdb" "$name.obj" /export:f
    rm -f "$name.obj" "$name.lib" "$name.exp"
done
