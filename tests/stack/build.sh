#!/bin/sh
# Builds unwind.sys from unwind.c with Debian's clang and lld (apt-get install
# clang lld llvm) and records what llvm-readobj and llvm-objdump say about it
# (unwind.txt, disasm.txt): the test takes its expectations from those, not
# from wdfdbg. The outputs are committed; rerun after editing the source.
set -eu
cd "$(dirname "$0")"
clang --target=x86_64-pc-windows-msvc -O1 -fno-inline -c unwind.c -o unwind.obj
lld-link /nologo /dll /noentry /nodefaultlib /Brepro /out:unwind.sys unwind.obj
rm -f unwind.obj unwind.lib unwind.exp
llvm-readobj --unwind unwind.sys > unwind.txt
llvm-objdump -d --no-show-raw-insn unwind.sys > disasm.txt
