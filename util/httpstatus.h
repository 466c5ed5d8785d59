/* httpstatus.h — HTTP reason phrases (util/httpstatus.c). */
#ifndef VIGIL_UTIL_HTTPSTATUS_H
#define VIGIL_UTIL_HTTPSTATUS_H

/* The reason phrase of a status code, as Go's http.StatusText: "Not Found"
 * for 404, "" when unknown.  Static strings. */
const char *http_status_text(int status);

#endif
