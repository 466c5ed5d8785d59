/* fsutil.h — small file-system helpers. */
#ifndef VIGIL_UTIL_FSUTIL_H
#define VIGIL_UTIL_FSUTIL_H

/* Removes path and everything below it (like rm -rf, without following
 * symlinks).  A missing path is not an error.  Returns 0 or -1 (errno). */
int fs_remove_tree(const char *path);

#endif
