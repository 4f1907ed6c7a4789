"""Which text encoding a departmental file is written in.

Spreadsheets and older systems on Windows export CSV in a code page (cp1252 in western Europe and
the US, cp1250 in central Europe), Excel's "Unicode text" in UTF-16; reading those as UTF-8 fails
on the first accented name. A file is read as UTF-8 when every byte of it decodes so (a byte-order
mark is dropped); otherwise charset-normalizer reads a sample that holds the first bytes that are
not UTF-8. A few accented names are too little for it to tell one code page from another (it reads
'Besançon' written in cp1252 as cp1250, where the 'è' of 'Lefèvre' is a 'č'), so among the code
pages the sample fits equally well, the one Windows uses for the silo's country wins; encodings no
department writes (ISO 8859-14, HP Roman-8) are only taken where nothing else fits.
"""
from __future__ import annotations

import codecs
from typing import BinaryIO, Callable

AUTO = "auto"
CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 1 << 16  # charset-normalizer decodes its sample in every candidate code page
WESTERN = "cp1252"  # what a spreadsheet on a western Windows machine writes
WINDOWS_CODE_PAGES = {  # country -> the code page of its language's Windows, where not WESTERN
    **dict.fromkeys(["PL", "CZ", "SK", "HU", "SI", "HR", "RO", "BA", "AL"], "cp1250"),
    **dict.fromkeys(["RU", "UA", "BG", "BY", "MK", "RS", "KZ", "KG"], "cp1251"),
    **dict.fromkeys(["GR", "CY"], "cp1253"),
    **dict.fromkeys(["TR", "AZ"], "cp1254"),
    **dict.fromkeys(["LT", "LV", "EE"], "cp1257"),
}
CLEAN_ENOUGH = 0.01  # charset-normalizer's "chaos" (share of odd characters) a fit may exceed the best by
# what departmental systems and spreadsheets write; charset-normalizer also offers rare ones that read
# a small sample a shade cleaner (ISO 8859-14, Celtic, reads the 'N°' of a cp1252 'N° client' as 'NḞ')
IN_USE = frozenset({
    "utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "ascii", "mac_roman", "koi8_r", "koi8_u",
    "cp437", "cp850", "cp852", "cp866", "cp874", "cp932", "cp936", "cp949", "cp950", "big5", "gb2312", "gbk",
    "gb18030", "shift_jis", "euc_jp", "euc_kr", "iso2022_jp",
    *(f"cp125{i}" for i in range(9)), *(f"iso8859_{i}" for i in (1, 2, 5, 7, 9, 15)),
})


class UndecodableFileError(ValueError):
    """A file whose bytes are no text in any encoding that could be told."""


def detect_encoding(open_binary: Callable[[], BinaryIO], name: str, country: str | None = None) -> str:
    """`utf-8-sig` for a file that decodes as UTF-8 (with or without a byte-order mark), else the
    encoding its bytes show, preferring the code page of `country`. `open_binary` opens the file
    afresh (a local path or a remote file system's object); `name` is for the error."""
    with open_binary() as handle:
        head, bad_at = _first_non_utf8(handle)
    if bad_at is None:
        return "utf-8-sig"
    with open_binary() as handle:
        sample = head + _bytes_around(handle, bad_at)
    return _guess(sample, name, WINDOWS_CODE_PAGES.get((country or "").upper(), WESTERN))


def _first_non_utf8(handle: BinaryIO) -> tuple[bytes, int | None]:
    """The file's first SAMPLE_BYTES and the offset of its first byte that is no UTF-8 (None when
    the whole file is UTF-8); streams, so a large file is never held whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    head, offset = b"", 0
    while chunk := handle.read(CHUNK_BYTES):
        if len(head) < SAMPLE_BYTES:
            head += chunk[: SAMPLE_BYTES - len(head)]
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return head, offset + max(exc.start, 0)
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return head, offset
    return head, None


def _bytes_around(handle: BinaryIO, offset: int) -> bytes:
    """Bytes from just before `offset`: where the file stops being UTF-8 says most about it."""
    if offset < SAMPLE_BYTES:
        return b""  # the first bytes, already sampled, hold it
    handle.seek(offset - 1024)
    return handle.read(SAMPLE_BYTES)


def _guess(sample: bytes, name: str, preferred: str) -> str:
    from charset_normalizer import from_bytes

    fits = list(from_bytes(sample))
    fits = [fit for fit in fits if fit.encoding in IN_USE] or fits
    if not fits:
        raise UndecodableFileError(f"{name}: not UTF-8 and no other text encoding fits; set the file's "
                                   "encoding (csv.encoding in the silo file)")
    least = min(fit.chaos for fit in fits)
    clean = [fit for fit in fits if fit.chaos <= least + CLEAN_ENOUGH]
    if any(fit.encoding == preferred or _reads_as(sample, preferred, str(fit)) for fit in clean):
        return preferred
    return clean[0].encoding


def _reads_as(sample: bytes, encoding: str, text: str) -> bool:
    """Whether the sample says the same in `encoding` (charset-normalizer lists one of the code
    pages that read a sample alike, not always the country's)."""
    try:
        return sample.decode(encoding) == text
    except UnicodeDecodeError:
        return False


def describe_decode_error(exc: UnicodeDecodeError, name: str, encoding: str) -> str:
    """One line naming the file, the encoding tried and the offending byte, with what to change."""
    byte = exc.object[exc.start:exc.start + 1].hex() if isinstance(exc.object, bytes) else "?"
    return (f"{name}: not readable as {encoding} (byte 0x{byte}); "
            "set the file's encoding (csv.encoding in the silo file, e.g. cp1252, latin-1, utf-16)")
