/* textparse.h — the Prometheus text (0.0.4) and OpenMetrics 1.0 text parsers.
 *
 * One pull parser for both exposition formats, accepting and rejecting what
 * Prometheus 3's model/textparse (promparse.go, openmetricsparse.go) accepts
 * and rejects.  Used by the scraper and by `vigil tsdb import`.
 *
 *     struct textparse p;
 *     textparse_init(&p, TEXTPARSE_OPENMETRICS, body, body_len);
 *     for (enum textparse_entry e; (e = textparse_next(&p)) != TEXTPARSE_END;) {
 *         if (e == TEXTPARSE_ERROR) { log("%s", textparse_error(&p)); break; }
 *         if (e == TEXTPARSE_SERIES) { textparse_series(&p, &key, &keylen); ... }
 *     }
 *     textparse_free(&p);
 *
 * Ownership and lifetime.  The parser borrows `buf`: every span it hands out
 * (struct textparse_str, struct textparse_label, the raw series bytes) points
 * into it, so the buffer must outlive the parser and every span kept.  A span
 * describes the current entry only and is not valid after the next
 * textparse_next() in the sense that it may then describe something else; the
 * bytes themselves stay where they are.  Nothing is allocated per sample: label
 * spans live in an array inside struct textparse, which moves to the heap only
 * for a line with more than TEXTPARSE_INLINE_LABELS labels and then stays
 * there for the rest of the parse (textparse_free releases it).  Unescaping is
 * lazy: spans are the bytes as written (quotes stripped, escapes kept), with
 * an `escaped` flag; the *_unescape functions write decoded text into a
 * caller-owned sbuf, typically only on a scrape-cache miss.
 *
 * A struct textparse is used by one thread at a time and must not be copied
 * (take its address).  The parser has no global state.
 *
 * Errors are sticky: after TEXTPARSE_ERROR every textparse_next() returns
 * TEXTPARSE_ERROR again, and textparse_error() reads "line 12: <what>". */
#ifndef VIGIL_SCRAPE_TEXTPARSE_H
#define VIGIL_SCRAPE_TEXTPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

enum textparse_format {
    TEXTPARSE_PROMETHEUS,  /* text/plain; version=0.0.4 */
    TEXTPARSE_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

enum textparse_entry {
    TEXTPARSE_SERIES,  /* a sample line */
    TEXTPARSE_HELP,    /* # HELP name text */
    TEXTPARSE_TYPE,    /* # TYPE name type */
    TEXTPARSE_UNIT,    /* # UNIT name unit (OpenMetrics) */
    TEXTPARSE_COMMENT, /* any other # line (Prometheus format; OpenMetrics has none) */
    TEXTPARSE_EOF,     /* the OpenMetrics "# EOF" line; nothing may follow it */
    TEXTPARSE_END,     /* no more input */
    TEXTPARSE_ERROR,   /* see textparse_error() */
};

/* Metric types.  The Prometheus format's "untyped" and OpenMetrics' "unknown"
 * are both UNKNOWN, as in Prometheus. */
enum textparse_mtype {
    TEXTPARSE_MTYPE_UNKNOWN,
    TEXTPARSE_MTYPE_COUNTER,
    TEXTPARSE_MTYPE_GAUGE,
    TEXTPARSE_MTYPE_HISTOGRAM,
    TEXTPARSE_MTYPE_GAUGEHISTOGRAM,
    TEXTPARSE_MTYPE_SUMMARY,
    TEXTPARSE_MTYPE_INFO,
    TEXTPARSE_MTYPE_STATESET,
};

/* Bytes inside the parsed buffer, not NUL-terminated.  `escaped` is set when
 * the bytes contain a backslash, i.e. when textparse_unescape() could change
 * them; otherwise they are already the text. */
struct textparse_str {
    const char *s;
    size_t len;
    bool escaped;
};

/* One label as written: the name (quotes stripped if it was a quoted UTF-8
 * name) and the value (quotes stripped). */
struct textparse_label {
    struct textparse_str name;
    struct textparse_str value;
};

/* A decoded label: NUL-terminated bytes in an sbuf (lengths given because a
 * label value may contain NUL bytes, which Prometheus accepts). */
struct textparse_label_text {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* An OpenMetrics exemplar: `... # {trace_id="x"} 1.0 123.4`. */
struct textparse_exemplar {
    const struct textparse_label *labels; /* borrowed, label_count of them */
    size_t label_count;
    double value;
    bool has_ts;
    int64_t ts; /* milliseconds */
};

#define TEXTPARSE_INLINE_LABELS 16
#define TEXTPARSE_ERR_MAX       256

/* Opaque in spirit: the fields are private, use the functions below.  It is
 * public only so that callers can keep the parser on the stack. */
struct textparse {
    const char *buf; /* borrowed */
    size_t len;
    size_t pos; /* next byte to read */
    enum textparse_format format;
    enum textparse_entry cur;
    size_t entry_start;

    /* SERIES */
    size_t series_start, series_end;
    struct textparse_str name;
    double value;
    int64_t ts;
    bool has_ts;
    size_t nlabels;                     /* sample labels */
    size_t nex;                         /* exemplar labels, stored after them */
    size_t label_cap;                   /* capacity of the array in use */
    struct textparse_label *heap;       /* owned; NULL while the inline array is used */
    const struct textparse_label **dup; /* owned scratch for long label lists */
    size_t dup_cap;
    bool has_exemplar, ex_has_ts;
    double ex_value;
    int64_t ex_ts;

    /* HELP, TYPE, UNIT, COMMENT */
    struct textparse_str meta_name, meta_text;
    enum textparse_mtype meta_type;

    /* Family state: Prometheus keeps the last TYPE (name and type) and the
     * length of the last HELP/TYPE/UNIT name. */
    struct textparse_str family;
    enum textparse_mtype mtype;
    size_t mf_name_len;

    /* line-number cursor: line_no is the line that starts at or before line_pos */
    size_t line_pos;
    unsigned long line_no;

    /* created-timestamp look-ahead cache (textparse_created_timestamp) */
    bool ct_valid, ct_found;
    size_t ct_from, ct_upto;
    uint64_t ct_key;
    int64_t ct_ms;

    struct textparse_label inline_labels[TEXTPARSE_INLINE_LABELS];
    char err[TEXTPARSE_ERR_MAX];
};

/* Starts a parse of buf[0..len).  Nothing is allocated. */
void textparse_init(struct textparse *p, enum textparse_format format, const char *buf, size_t len);
/* Releases what the parser allocated for long label lists; p may then be
 * initialised again. */
void textparse_free(struct textparse *p);

enum textparse_entry textparse_next(struct textparse *p);

/* For TEXTPARSE_ERROR: "line N: message". */
const char *textparse_error(const struct textparse *p);
/* The 1-based line on which the current entry starts.  Counted lazily, so
 * asking for it on every entry costs O(input) in all, not O(1) per call. */
unsigned long textparse_line(struct textparse *p);

/* ---- TEXTPARSE_SERIES ---- */

/* The series as written — metric name and label block, exactly the bytes
 * Prometheus uses as its scrape-cache key. */
void textparse_series(const struct textparse *p, const char **raw, size_t *rawlen);
struct textparse_str textparse_metric_name(const struct textparse *p);
double textparse_value(const struct textparse *p);
/* True if the sample has a timestamp; *ms is then milliseconds since the
 * epoch (the Prometheus format writes ms; OpenMetrics writes float seconds,
 * converted as Prometheus does: int64(seconds * 1000), truncating). */
bool textparse_timestamp(const struct textparse *p, int64_t *ms);
/* The labels inside the braces, in written order (__name__ not included). */
size_t textparse_label_count(const struct textparse *p);
const struct textparse_label *textparse_labels(const struct textparse *p);
/* True if the sample carries an exemplar (OpenMetrics only). */
bool textparse_exemplar(const struct textparse *p, struct textparse_exemplar *ex);

/* Decodes the series' label set into out: v[0] is __name__ and v[1..] the
 * labels in written order, each NUL-terminated.  v must have room for
 * textparse_label_count(p) + 1 entries; returns how many were written.  As in
 * Prometheus 3, the value of `le` in a histogram and of `quantile` in a summary
 * is rewritten to its canonical float form ("1" -> "1.0").  Labels with empty
 * values are kept (Prometheus drops them when it builds the series).  The
 * pointers are valid until out is next modified. */
size_t textparse_labels_unescape(const struct textparse *p, struct sbuf *out,
                                 struct textparse_label_text *v);

/* Appends s decoded (\\ \" \n, as Prometheus decodes label names and values;
 * any other backslash stays as written) to out, NUL-terminated. */
void textparse_unescape(struct sbuf *out, struct textparse_str s);

/* ---- TEXTPARSE_HELP, TEXTPARSE_TYPE, TEXTPARSE_UNIT, TEXTPARSE_COMMENT ---- */

/* The metric family name of a HELP, TYPE or UNIT line. */
struct textparse_str textparse_meta_name(const struct textparse *p);
/* HELP text as written. */
struct textparse_str textparse_help(const struct textparse *p);
/* Appends the decoded HELP text (Prometheus format: \\ and \n; OpenMetrics
 * also \") to out, NUL-terminated. */
void textparse_help_unescape(const struct textparse *p, struct sbuf *out);
enum textparse_mtype textparse_type(const struct textparse *p);
struct textparse_str textparse_unit(const struct textparse *p);
/* The whole comment line from its '#', without the newline. */
struct textparse_str textparse_comment(const struct textparse *p);

/* ---- metric families ---- */

/* "counter", "gauge", ... ("unknown" for UNKNOWN). */
const char *textparse_mtype_name(enum textparse_mtype t);
/* Whether the sample name belongs to the family named `family` of type t:
 * equal names, or for counters an optional _total on either, for histograms
 * _bucket/_sum/_count, for gauge histograms _bucket/_gsum/_gcount, for
 * summaries _sum/_count, for info an optional _info on either (Prometheus 3's
 * isSeriesPartOfFamily). */
bool textparse_family_match(const char *name, size_t name_len, const char *family,
                            size_t family_len, enum textparse_mtype t);
/* The type of the current series: the last TYPE line's type if the series
 * belongs to that family, else UNKNOWN (how Prometheus 3 attaches metadata). */
enum textparse_mtype textparse_series_type(const struct textparse *p);
/* The last TYPE line's type whatever the series (what Prometheus uses for
 * _created handling and for le/quantile normalisation). */
enum textparse_mtype textparse_current_type(const struct textparse *p);
/* True if the current OpenMetrics series is a `<family>_created` line of a
 * counter, histogram or summary (Prometheus can drop these from ingestion). */
bool textparse_series_is_created(const struct textparse *p);
/* The OpenMetrics created timestamp of the current series, found as
 * Prometheus finds it: looking ahead, within the family, for the first
 * `_created` line, which must carry the same labels (le/quantile aside).
 * Looks ahead without moving the parser; repeated look-ups within one run
 * of lines are answered from a cache, so a whole parse stays linear.  Always
 * false for the Prometheus format. */
bool textparse_created_timestamp(struct textparse *p, int64_t *ms);

#endif
