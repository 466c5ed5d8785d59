/* template_regex.h — Go-flavoured regular expressions on PCRE2 for the
 * reReplaceAll and match template functions.  Internal to
 * alerting/template/. */
#ifndef VIGIL_ALERTING_TEMPLATE_REGEX_H
#define VIGIL_ALERTING_TEMPLATE_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "alerting/template/template_internal.h"

struct tmpl_regex;

/* NULL with err ("error parsing regexp: ...") if pat does not compile. */
struct tmpl_regex *tmpl_regex_compile(const char *pat, size_t n, char *err, size_t errsz);
void tmpl_regex_free(struct tmpl_regex *r);
/* Unanchored search, as Go's MatchString.  0, or -1 with err (limits). */
int tmpl_regex_match(struct tmpl_regex *r, const char *s, size_t n, bool *matched, char *err,
                     size_t errsz);
/* Go's ReplaceAllString: appends the result to out.  0 or -1 with err. */
int tmpl_regex_replace_all(struct tmpl_regex *r, const char *s, size_t n, const char *repl,
                           size_t rn, struct sbuf *out, char *err, size_t errsz);

#endif
