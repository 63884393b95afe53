// The smallest C++ image with a vtable, for wdfdbg's PE reader tests
// (tests/test_pe_image.py). Built by build.sh.
struct A { virtual ~A() {} int x; };
struct B : A { int y; };
B g_b;
extern "C" int f() { return g_b.y; }
// No C runtime: the pieces the compiler calls.
void operator delete(void*) noexcept {}
void operator delete(void*, unsigned long long) noexcept {}
extern "C" int atexit(void (*)(void)) { return 0; }
