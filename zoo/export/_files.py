"""All-or-nothing writing: build next to the target, check, then rename into place."""
import contextlib
import os
import shutil
import tempfile


def refuse_existing(path):
    """Raises ``FileExistsError`` before any work if ``path`` exists."""
    if os.path.lexists(path):
        raise FileExistsError(f"Refusing to overwrite an existing export. Received: path={path}")


@contextlib.contextmanager
def staging_dir(target):
    """Yields a fresh temporary folder next to ``target`` (same file system), removed on exit.

    The folder name starts with ``.tmp-`` so TF Serving, which loads only numeric version
    folders, never picks up a half-written export.
    """
    parent = os.path.dirname(os.path.abspath(target))
    created_parent = not os.path.isdir(parent)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(target)}-", dir=parent)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created_parent and not os.path.exists(target):
            with contextlib.suppress(OSError):
                os.rmdir(parent)  # Only if still empty.


def move_into_place(source, target):
    """Renames ``source`` to ``target`` atomically; fails if ``target`` appeared meanwhile."""
    refuse_existing(target)
    if os.path.isdir(source):
        os.rename(source, target)  # Fails on a non-empty existing folder.
    else:
        # os.link fails if the target exists, unlike os.replace; then drop the staging name.
        os.link(source, target)
        os.unlink(source)
