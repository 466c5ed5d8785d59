/* duration.h — Prometheus durations ("1h30m", "15s", "1d", "100ms").
 *
 * The syntax is Prometheus's model.ParseDuration: one or more
 * <integer><unit> terms, units y w d h m s ms, each unit at most once and in
 * that order (largest first), or the single string "0".  A year is 365 days,
 * a week 7 days, a day 24 hours. */
#ifndef VIGIL_UTIL_DURATION_H
#define VIGIL_UTIL_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into milliseconds.  Returns 0, or -1 if s is not a valid
 * duration (also on overflow).  Negative durations are not accepted. */
int duration_parse(const char *s, int64_t *ms);

/* Formats ms as Prometheus prints a model.Duration ("1h30m", "0s").
 * Writes at most n bytes including the NUL; returns buf. */
char *duration_format(int64_t ms, char *buf, size_t n);

/* Formats ms as Go's time.Duration.String() ("1m30s", "1h0m0s", "1.5s",
 * "500ms", "0s").  Writes at most n bytes including the NUL; returns buf. */
char *duration_format_go(int64_t ms, char *buf, size_t n);

/* Parses a byte size as Prometheus's units.Base2Bytes does: terms of
 * <integer><unit> with units B, KB, MB, GB, TB, PB, EB (powers of 1024, also
 * spelled KiB, MiB, ...), e.g. "512MB", "1GB", or "0".  Returns 0 or -1. */
int bytesize_parse(const char *s, int64_t *bytes);

#endif
