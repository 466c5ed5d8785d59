/* gostrconv.h — the parts of Go's strconv whose exact behaviour Prometheus
 * users see: which numbers parse (PromQL literals, exposition values). */
#ifndef VIGIL_UTIL_GOSTRCONV_H
#define VIGIL_UTIL_GOSTRCONV_H

#include <stdbool.h>
#include <stddef.h>

/* Go's underscoreOK: in a number literal, '_' may only stand between
 * digits or after a base prefix (0b, 0o, 0x); an optional sign leads. */
bool go_underscore_ok(const char *s, size_t n);

#endif
