/* outfile.h — where a report goes: opening a report file (or stdout), writing to it whatever it is, and
 * putting a whole report in place at the end. The reporters only see a FILE. */
#ifndef AC_OUTFILE_H
#define AC_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include "../util/util.h"

typedef struct ac__outfile ac__outfile;

enum {
    AC_OUTFILE_WHOLE = 1,      /* complete or absent: written aside and put in place at the end */
    AC_OUTFILE_NAMED_TEMP = 2, /* with WHOLE: use a named temporary file even where O_TMPFILE works (tests) */
};

/* Opens the report file `path` that `what` (the option or variable that named it, e.g. "--junit")
 * asks for, or returns NULL with the reason ("--junit: cannot write 'x': ...") in `err`. A streamed
 * report truncates and writes the file in place. A whole report (AC_OUTFILE_WHOLE) is written to an
 * unnamed file in the target's directory (O_TMPFILE) that becomes the target only when committed, so
 * nothing is ever left beside it; where O_TMPFILE is not supported, to a short-named temporary file
 * there, removed on the signals that would otherwise end the runner. A symlink keeps pointing where it
 * did: a whole report replaces its final target (created when dangling). Anything that is not a regular
 * file (a device, a fifo, a socket, a terminal; directly or through symlinks) is written through and
 * never replaced. A directory is refused. */
ac__outfile *ac__outfile_open(const char *what, const char *path, int flags, ac__buf *err);
/* Writes the report `what` to the runner's stdout (fd 1), never closing it. */
ac__outfile *ac__outfile_stdout(const char *what);
/* The stream a reporter writes to. Writes wait (poll) while a non-blocking descriptor is full instead of
 * failing; after an error the rest of the report is discarded, and the error is kept for the close. */
FILE *ac__outfile_stream(ac__outfile *f);
/* Flushes and closes, putting a whole report in place, and frees f. Returns 0, or -1 after printing one
 * line to stderr naming the report and the first error ("asyncheck: --tap: could not write 'x': ..."). */
int ac__outfile_close(ac__outfile *f);
/* Closes and frees f without putting a whole report in place (nothing is left beside the target). */
void ac__outfile_discard(ac__outfile *f);

#endif
