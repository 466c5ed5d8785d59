/* fsutil.c — file-system helpers: recursive removal with nftw(3), walking
 * depth-first so directories are empty when their turn comes, and never
 * following symbolic links out of the tree. */
#include "util/fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path)
{
    int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 && errno == ENOENT ? 0 : rc;
}
