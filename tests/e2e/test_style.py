"""The house rules that a compiler does not check (shared/STYLE.md).

Every C file in the tree is formatted by the root .clang-format, opens with
a comment on what it owns, and keeps no mutable state at file scope: all
state lives in the server struct or the object that owns it, because
queries, rule groups and the flusher run on several threads at once (a
file-level sort context once made concurrent sort() queries race).
"""
import os
import re
import shutil
import subprocess
import unittest

from vigil_e2e import VIGIL_SRC, main

# File-scope statics that are not state: a once-flag for a library's
# process-wide init (curl_global_init must run exactly once).
STATIC_ALLOWED = {
    ("util/uvcurl.c", "curl_once"),
    ("util/uvcurl.c", "curl_init_rc"),
}

# A file-scope declaration `static <type> name [= ...];` (not a function,
# not a const table).
STATIC_DECL = re.compile(r"^static\s+(?!.*\bconst\b)[^(=;]*?\b([A-Za-z_]\w*)\s*(\[[^]]*\])*\s*(=[^;]*)?;")


def c_sources():
    out = subprocess.run(["git", "ls-files", "*.c", "*.h"], cwd=VIGIL_SRC, capture_output=True,
                         text=True, check=True).stdout
    return [p for p in out.split() if p]


class StyleTest(unittest.TestCase):
    def test_clang_format_clean(self):
        cf = shutil.which("clang-format")
        if cf is None:
            self.fail("clang-format is not installed (scripts/setup.sh --test installs it)")
        bad = []
        for path in c_sources():
            r = subprocess.run([cf, "--dry-run", "-Werror", path], cwd=VIGIL_SRC,
                               capture_output=True, text=True)
            if r.returncode != 0:
                bad.append(path)
        self.assertEqual(bad, [], "not formatted by .clang-format (run clang-format -i)")

    def test_c_files_open_with_a_comment(self):
        bad = []
        for path in c_sources():
            if not path.endswith(".c"):
                continue
            with open(os.path.join(VIGIL_SRC, path)) as f:
                if not f.read(2) == "/*":
                    bad.append(path)
        self.assertEqual(bad, [], "a .c file must open with a comment on what it owns")

    def test_no_mutable_file_scope_state(self):
        bad = []
        for path in c_sources():
            if not path.endswith(".c") or path.startswith(("tests/", "bench/")):
                continue
            with open(os.path.join(VIGIL_SRC, path)) as f:
                for n, line in enumerate(f, 1):
                    m = STATIC_DECL.match(line)
                    if m and (path, m.group(1)) not in STATIC_ALLOWED:
                        bad.append("%s:%d: %s" % (path, n, line.strip()))
        self.assertEqual(bad, [], "mutable state at file scope")

    def test_checker_sees_a_mutable_static(self):
        # The pattern must catch what it is for, and pass const tables.
        self.assertTrue(STATIC_DECL.match("static struct sort_ctx g_sort;"))
        self.assertTrue(STATIC_DECL.match("static int counter = 0;"))
        self.assertTrue(STATIC_DECL.match("static char buf[64];"))
        self.assertFalse(STATIC_DECL.match("static const char *const names[] = {"))
        self.assertFalse(STATIC_DECL.match("static int f(int x);"))
        self.assertFalse(STATIC_DECL.match("static const struct flag flags[] = {"))


if __name__ == "__main__":
    main()
