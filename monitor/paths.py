"""Where monitor keeps its files when the configuration does not say: the XDG base directories.

The database goes to ``$XDG_DATA_HOME/monitor/monitor.db``, which is
``~/.local/share/monitor/monitor.db`` when XDG_DATA_HOME is unset (or not absolute, as the
specification requires).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "monitor"


def default_db_path(environ: Mapping[str, str] | None = None) -> str:
    return str(data_dir(environ) / "monitor.db")
