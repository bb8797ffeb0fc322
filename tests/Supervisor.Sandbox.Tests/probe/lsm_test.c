/*
 * lsm_test — links the helper's lsm.c with its /proc and /sys paths pointed at a test
 * directory (-DLSM_ATTR_DIR=... etc.) and calls it: the C# test then checks what was written
 * where. Real enforcement needs AppArmor/SELinux and is tested in the VM lane.
 *   lsm_test enabled KIND | lsm_test set KIND LABEL     (KIND 1 = AppArmor, 2 = SELinux)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

void status_write(uint32_t kind, uint32_t step, int err, uint32_t detail) { (void)kind; (void)step; (void)err; (void)detail; }
_Noreturn void fail(uint32_t step, int err, uint32_t detail) { (void)step; (void)err; (void)detail; exit(127); }

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "enabled")) {
        printf("%d\n", lsm_enabled((uint32_t)atoi(argv[2])));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "set")) {
        if (lsm_set_exec_label((uint32_t)atoi(argv[2]), argv[3]) < 0) {
            printf("fail %d\n", errno);
            return 1;
        }
        printf("ok\n");
        return 0;
    }
    return 2;
}
