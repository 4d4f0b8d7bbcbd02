"""Each benchmark writes its own section of benchmarks/README.md: one current table, the
command that produced it, the date and the machine. Earlier figures stay in git history."""

from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def machine() -> str:
    """This machine in a few words: cores, memory, CPU model, Python."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB memory, "
            f"Python {platform.python_version()}")


def write_section(title: str, command: str, body: str) -> None:
    """Replace (or append) the README section ``## title`` with ``body`` under a line
    saying which command wrote it, when and on what machine."""
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    heading = f"## {title}"
    section = (f"{heading}\n\nWritten by `{command}` on {date.today():%Y-%m-%d}, "
               f"{machine()}.\n\n{body.strip()}\n")
    if heading + "\n" in text:
        before, _, after = text.partition(heading + "\n")
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text)
