"""Writing a snapshot document as OUT's name asks, whole or not at all
(:func:`wdfdbg.render.files.atomic_output`): a binary container
(``docs/snapshot-binary.md``) when OUT ends in ``.bin``, a gzipped JSON
snapshot when it ends in ``.gz``, plain JSON otherwise. ``wdfdbg
snapshot`` and ``wdfdbg record`` write through here."""

from wdfdbg.errors import UsageError
from wdfdbg.render import files
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources import snapshot_binary


def is_container(path):
    return snapshot_binary.is_container_name(path)


def check_name(path):
    """Refuse, before any work, a name that asks for a compressed
    container (``.bin.gz``): a container is read in place through mmap, so
    it is never compressed."""
    name = str(path).lower()
    if name.endswith(".gz") and name[:-3].endswith(".bin"):
        raise UsageError("%s: a binary snapshot container is not compressed (it is read in place): name it "
                         "...wdfsnap.bin for a container, or ...wdfsnap.json.gz for a gzipped JSON snapshot" % path)


def write(path, doc):
    """Write the snapshot document ``doc`` (memory as base64 ranges, as
    the recorders build it) at ``path``, in the format its name asks."""
    if is_container(path):
        memory = snapshot_binary.document_memory(doc)
        with files.atomic_output(path, compress=False) as f:
            snapshot_binary.write(f, doc, memory)
        return
    with files.atomic_output(path) as f:
        f.write(snapfmt.dumps(doc))
