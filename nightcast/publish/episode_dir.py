"""An episode directory appears only when complete: build in a hidden sibling, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def building(final_dir: Path) -> Iterator[Path]:
    """Yield a temporary directory beside final_dir; on success it replaces final_dir in one rename.

    On any failure the temporary directory is removed and an existing final_dir is left untouched.
    """
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final_dir.name}-", dir=final_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a published episode gets normal permissions
    try:
        yield tmp
        if final_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".replaced-{final_dir.name}-", dir=final_dir.parent))
            os.replace(final_dir, retired / "old")
            os.replace(tmp, final_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(tmp, final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
