"""The Dockerfile, checked without a Docker daemon (none runs where tests run).

The runtime stage must install a package for every shared library the built
binary links, run as a non-root user, expose 9090, keep data in a volume and
have a HEALTHCHECK on /-/healthy; the build stage must use the project's own
setup script.
"""
import os
import re
import subprocess
import unittest

from vigil_e2e import VIGIL_BIN, VIGIL_SRC, main

BASE_LIBS = ("linux-vdso", "libc.so", "ld-linux", "libpthread", "libm.so", "libdl", "librt",
             "libasan", "libubsan", "libgcc_s", "libstdc++")


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(VIGIL_SRC, "Dockerfile")) as f:
            cls.text = f.read()
        stages = re.split(r"^FROM ", cls.text, flags=re.M)
        cls.runtime = stages[-1]
        cls.build = stages[-2]

    def runtime_packages(self):
        m = re.search(r"apt-get install(.*?)&&", self.runtime, flags=re.S)
        self.assertIsNotNone(m, "runtime stage installs no packages")
        words = re.findall(r"(?<![\w-])[a-z0-9][a-z0-9.+-]+", m.group(1))
        return set(w for w in words if not w.startswith("-"))

    def test_runtime_has_every_linked_library(self):
        ldd = subprocess.run(["ldd", VIGIL_BIN], capture_output=True, text=True, check=True).stdout
        pkgs = self.runtime_packages()
        for line in ldd.splitlines():
            parts = line.split()
            if not parts or any(os.path.basename(parts[0]).startswith(b) for b in BASE_LIBS):
                continue
            path = parts[2] if len(parts) > 2 and parts[1] == "=>" else parts[0]
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
            if owner.returncode != 0:
                owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            self.assertEqual(owner.returncode, 0, "no package owns " + path)
            pkg = owner.stdout.split(":")[0]
            self.assertIn(pkg, pkgs, "%s (from %s) missing in the runtime stage" % (pkg, parts[0]))

    def test_build_stage_uses_setup_script(self):
        self.assertIn("scripts/setup.sh", self.build)
        self.assertIn("scripts/build.sh release", self.build)

    def test_runtime_conventions(self):
        self.assertRegex(self.runtime, r"(?m)^USER (?!root)\w+")
        self.assertRegex(self.runtime, r"(?m)^EXPOSE 9090")
        self.assertRegex(self.runtime, r"(?m)^VOLUME ")
        self.assertRegex(self.runtime, r"(?m)^HEALTHCHECK .*?/-/healthy")
        self.assertRegex(self.runtime, r"(?m)^FROM debian:bookworm|^debian:bookworm")
        self.assertTrue(self.text.startswith("#") and "FROM debian:bookworm" in self.text)


if __name__ == "__main__":
    main()
