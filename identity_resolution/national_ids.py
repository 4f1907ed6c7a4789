"""National ids (SSN and the like): keyed hash of the digits, last four kept, masked forms marked partial."""
from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from identity_resolution.text import without_float_tail


HASH_KEY_ENV = "HUB_HASH_KEY"
_SEQUENCES = ["123456789", "987654321", "0123456789", "1234567890", "1234567", "12345678"]


class MissingHashKeyError(RuntimeError):
    """National ids are present but no key to hash them was given."""


def resolve_hash_key(explicit: bytes | None) -> bytes | None:
    """The HMAC key: explicit argument, else the HUB_HASH_KEY environment variable, else None."""
    if explicit is not None:
        return explicit
    env = os.environ.get(HASH_KEY_ENV)
    return env.encode("utf-8") if env else None


def standardise_national_ids(raw: pd.Series, hash_key: bytes | None) -> pd.DataFrame:
    """national_id_hash (HMAC-SHA256 hex of the digits), national_id_last4, national_id_is_partial.

    A masked value such as 'XXX-XX-1234', or a bare last four ('1234'), keeps its last four digits and is
    marked partial, with no hash. Full ids of fewer than nine digits are zero-padded before hashing.
    Junk ('000-00-0000', '123-45-6789', repeated digits) gives all three empty / False.
    """
    text = without_float_tail(raw.astype("string").str.strip().str.upper())
    masked = text.str.contains(r"[X*#•]", regex=True).fillna(False)
    digits = text.str.replace(r"\D", "", regex=True)
    usable = digits.str.len().ge(4).fillna(False)
    junk_full = digits.str.fullmatch(r"(\d)\1*").fillna(True) | digits.isin(_SEQUENCES)
    short = digits.str.len().le(5).fillna(False)  # 'last four' fields: '5678'
    full = usable & ~masked & ~short & ~junk_full
    partial = usable & (masked | short) & ~digits.str[-4:].isin(["0000"]).fillna(True)
    # a number column dropped the leading zeros ('012-34-5678' -> 12345678); padding every short full
    # id the same way keeps them equal to the written form
    digits = digits.where(~full, digits.str.zfill(9))
    last4 = digits.str[-4:].where(full | partial, None).astype("object")
    hashes = pd.Series(None, index=raw.index, dtype="object")
    if full.any():
        if hash_key is None:
            raise MissingHashKeyError(
                f"{int(full.sum())} national_id values need hashing but no key was given: pass hash_key= "
                f"or set the {HASH_KEY_ENV} environment variable"
            )
        uniq = pd.unique(digits[full].astype(str))
        table = {d: hmac.new(hash_key, d.encode(), hashlib.sha256).hexdigest() for d in uniq}
        hashes[full] = digits[full].astype(str).map(table)
    return pd.DataFrame(
        {
            "national_id_hash": hashes,
            "national_id_last4": last4.where(last4.notna(), None),
            "national_id_is_partial": (partial & ~full).astype(bool),
        },
        index=raw.index,
    )
