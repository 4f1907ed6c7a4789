"""Compressed file drops, opened decompressed: gzip, bzip2, xz and a zip archive of one file
('customers.csv.gz', 'export.csv.bz2', 'ledger.dat.xz', 'customers.csv.zip' as a mail client saves an
attachment). The format is then the extension before the compression's (config.file_suffix)."""
from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

from sources.errors import MalformedFileError

COMPRESSIONS = ("gz", "bz2", "xz", "zip")
_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def compression_of(name: str) -> str | None:
    """'gz' for 'customers.csv.gz', None for a file that is not compressed."""
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    return suffix if suffix in COMPRESSIONS else None


@contextmanager
def decompressed(open_raw: Callable[[], BinaryIO], name: str) -> Iterator[BinaryIO]:
    """The file `open_raw` opens (its bytes as stored), read through its decompression; a zip archive
    must hold one file (of several, which would be the records is a guess: the sync fails naming them)."""
    kind = compression_of(name)
    with open_raw() as raw:
        if kind is None:
            yield raw
        elif kind == "zip":
            with zipfile.ZipFile(raw) as archive, archive.open(_single_member(archive, name)) as member:
                yield member
        else:
            with _OPENERS[kind](raw, "rb") as plain:
                yield plain


def _single_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    if len(members) != 1:
        listed = ", ".join(m.filename for m in members[:5]) or "nothing"
        raise MalformedFileError(f"{name}: a zip archive of {len(members)} files ({listed}); a drop reads one "
                                 "file per archive: zip each export alone, or drop the files themselves")
    return members[0]
