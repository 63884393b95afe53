/* Three functions whose prologs push non-volatile registers and allocate
 * stack, for the x64 unwinder's test (tests/test_crash_stack.py): the test
 * lays a stack through inner -> middle -> outer as their UNWIND_INFO says
 * (llvm-readobj --unwind, saved in unwind.txt) and the unwinder must
 * follow it. Built by build.sh; the image is committed beside it. */
extern void sink(volatile int *p, int n);

__declspec(noinline) __declspec(dllexport) int inner(int a, int b)
{
    volatile int buf[24];
    int i;
    for (i = 0; i < 24; i++)
        buf[i] = a * i + b;
    sink(buf, a);
    return buf[a & 15] + buf[b & 7];
}

__declspec(noinline) __declspec(dllexport) int middle(int a, int b, int c, int d)
{
    volatile int big[300];
    int x = inner(a + c, b - d);
    int y = inner(b * d, a ^ c);
    big[x & 255] = y;
    sink(big, x);
    return x * y + big[(a + b + c + d) & 255] + c * d;
}

__declspec(noinline) __declspec(dllexport) int outer(int a)
{
    int r = 0, k;
    for (k = 0; k < a; k++)
        r += middle(k, a, r, k * a);
    return r;
}

void sink(volatile int *p, int n)
{
    p[0] = n;
}
