/* replace_noplt.c — compiled with -fno-plt: its call to getegid goes through an R_X86_64_GLOB_DAT slot
 * of the executable rather than a PLT entry (nothing else in the executable calls getegid). */
#include <unistd.h>

unsigned ac_selftest_noplt_getegid(void);

unsigned ac_selftest_noplt_getegid(void) {
    return (unsigned)getegid();
}
