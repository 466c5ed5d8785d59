/* labels.h — label sets and label matchers, Prometheus's data model.
 *
 * A series is identified by its label set: label names are unique and the
 * set is sorted by name (byte order), `__name__` included like any other
 * label.  Names and values are arbitrary UTF-8 (Prometheus 3).  A label
 * with an empty value is the same as no label at all, so sets never hold
 * empty values.
 *
 * The canonical byte form of a set, used for hashing and as the stored key,
 * is name 0xFF value 0xFF for each label in order (0xFF never occurs in
 * UTF-8, so the encoding is unambiguous).
 *
 * Matchers select series as PromQL does: `=` and `!=` compare the value
 * (a missing label has the value ""), `=~` and `!~` match a regex that is
 * fully anchored (^(?s:re)$, RE2 syntax).  These structs only describe; the
 * index compiles and runs them.  Strings are borrowed by both structs. */
#ifndef VIGIL_STORAGE_LABELS_H
#define VIGIL_STORAGE_LABELS_H

#include <stddef.h>
#include <stdint.h>

struct label {
    const char *name;
    const char *value;
};

struct labels {
    const struct label *v; /* sorted by name, names unique, values non-empty */
    size_t n;
};

enum label_match_type { LABEL_MATCH_EQ, LABEL_MATCH_NEQ, LABEL_MATCH_RE, LABEL_MATCH_NRE };

struct label_matcher {
    enum label_match_type type;
    const char *name;
    const char *value; /* the literal, or the regex source */
};

#endif
