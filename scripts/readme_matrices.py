"""Write, or check, the expectation matrices in README.md.

Each matrix in the README follows a comment naming the command that prints it:

    <!-- appservice-fs matrix --backend local --app-service-storage off -->
    ...the command's output...
    <!-- end matrix -->

`python scripts/readme_matrices.py` rewrites them from the code; `--check` exits 1 naming
the first matrix that differs (tests/test_readme_matrices.py runs the check).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

from pytest_appservice_fs.configuration_cli import matrix

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(
    r"(<!-- appservice-fs matrix(?P<args>[^>]*) -->\n)(?P<body>.*?)(<!-- end matrix -->)", re.S
)


def printed(args: str) -> str:
    """What ``appservice-fs matrix ARGS`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = matrix(shlex.split(args))
    if status != 0:
        raise SystemExit(f"appservice-fs matrix{args} exited {status}")
    return out.getvalue()


def rewritten(text: str) -> str:
    """``text`` with every matrix block's body printed anew."""
    return BLOCK.sub(lambda m: m.group(1) + "\n" + printed(m["args"]) + "\n" + m.group(4), text)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = rewritten(text)
    if "--check" in argv:
        for old_block, new_block in zip(BLOCK.finditer(text), BLOCK.finditer(new), strict=True):
            if old_block.group(0) != new_block.group(0):
                print(
                    f"README.md: the matrix of `appservice-fs matrix{old_block['args']}` is out "
                    "of date; run python scripts/readme_matrices.py"
                )
                return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
