/* echo_buf.h — the one buffer helper the echo server and client share. */
#ifndef ECHO_BUF_H
#define ECHO_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Grows *buf (capacity *cap) so that it holds at least `need` bytes. False when memory runs out. */
bool echo_reserve(char **buf, size_t *cap, size_t need);

#endif
