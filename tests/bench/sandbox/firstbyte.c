/* The benchmarked service: its first act in main is one byte to stdout (a pipe the benchmark
 * reads), which marks the end of the start latency. Built static, like the helper. */
#include <unistd.h>

int main(void)
{
    return write(1, "x", 1) == 1 ? 0 : 1;
}
