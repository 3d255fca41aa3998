"""Screenshots of the staff console's main pages for the README: docs/console/*.png.

Runs the browser tour test, the reconciliation and shipping test and the Chinese run of the
languages test (a live backend, the simulator and Debian's Chromium, on SQLite) with
CONSOLE_SCREENSHOTS set, so the pictures always show the pages as they are now (zh-*.png: the
console in Chinese, its default language):

    .venv/bin/python scripts/console_screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    env = {**os.environ, "CONSOLE_SCREENSHOTS": str(ROOT / "docs" / "console")}
    env.pop("TEST_DATABASE_URL", None)  # one run is enough
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "tests/console/test_browser.py::test_a_tour_of_the_main_pages",
            "tests/console/test_browser.py::"
            "test_resolve_a_reconciliation_difference_and_record_a_shipment",
            "tests/console/test_browser.py::test_the_console_in_each_language[sqlite-zh_Hans]",
        ],
        cwd=ROOT,
        env=env,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
