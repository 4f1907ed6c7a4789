"""Email addresses: display form (trimmed, lower-case, valid) and the provider-normalised match key."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA
from unidecode import unidecode

from identity_resolution.text import map_distinct

# letters and digits of any script (RFC 6531: 'josé.garcía@empresa.es' is a mailbox; RE2 classes)
_VALID = r"^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}$"
_JUNK_LOCAL = {
    "test", "testing", "none", "noemail", "no-email", "no.email", "nomail", "noreply", "no-reply",
    "donotreply", "do-not-reply", "null", "na", "n/a", "unknown", "email", "user", "example", "abc",
    "asdf", "xxx", "x", "a", "info", "admin", "fake", "dummy", "nobody", "anonymous", "customer",
}
_JUNK_DOMAINS = {
    "test.com", "example.com", "example.org", "example.net", "email.com", "none.com", "na.com",
    "noemail.com", "nomail.com", "mailinator.com", "fake.com", "test.test", "domain.com", "xxx.com",
    "invalid", "localhost", "unknown.com",
}
# Slips in the domains of the big providers, as people type them into forms ('gmial.com'): any
# domain one slip (an edit or two neighbouring letters swapped) from one of these, and the listed
# longer slips, unless it is a real domain in use itself (mail.com and ymail.com are, and stay).
_PROVIDERS = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "icloud.com", "comcast.net",
              "verizon.net", "sbcglobal.net", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com")
_REAL_DOMAINS = frozenset({
    "mail.com", "ymail.com", "gmx.com", "gmx.net", "live.com", "msn.com", "aol.com", "aim.com", "me.com",
    "mac.com", "att.net", "cox.net", "email.com", "yahoo.ca", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it",
    "hotmail.fr", "hotmail.de", "hotmail.es", "hotmail.it", "outlook.fr", "outlook.de", "outlook.es",
    "gmail.de", "yahoo.co.in", "yahoo.co.jp", "hotmail.co.jp", "protonmail.com", "proton.me",
})
# the first labels of those: 'yahoo' of yahoo.com.au too, a mailbox anyone can have, no employer
_PROVIDER_NAMES = frozenset(d.split(".")[0] for d in (*_PROVIDERS, *_REAL_DOMAINS)) | {"googlemail", "protonmail"}


def is_mail_provider(domain: str) -> bool:
    """A domain anyone can have a mailbox at (gmail.com, yahoo.co.uk, att.net), not an employer's."""
    return domain.split(".")[0] in _PROVIDER_NAMES


_DOMAIN_TYPOS = {
    **dict.fromkeys(["gmial.com", "gmal.com", "gamil.com", "gnail.com", "gmaill.com", "gmai.com", "gmail.co",
                     "gmail.con", "gmail.cm", "gmail.om", "gmail.comm", "gmailcom"], "gmail.com"),
    **dict.fromkeys(["hotmial.com", "hotmal.com", "hotmai.com", "hotmail.co", "hotmail.con", "hotmail.cm",
                     "hotamil.com"], "hotmail.com"),
    **dict.fromkeys(["yaho.com", "yahooo.com", "yahoo.co", "yahoo.con", "yahoo.cm", "yhoo.com"], "yahoo.com"),
    **dict.fromkeys(["outlok.com", "outlook.co", "outlook.con", "outloo.com"], "outlook.com"),
    **dict.fromkeys(["aol.co", "aol.con", "aoll.com"], "aol.com"),
    **dict.fromkeys(["iclod.com", "icloud.co", "icloud.con", "iclould.com"], "icloud.com"),
    **dict.fromkeys(["comcat.net", "comcast.ne"], "comcast.net"),
}
# Providers that ignore dots in the local part; plus-tags are stripped for every provider.
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def clean_emails(raw: pd.Series) -> pd.Series:
    """Lower-cased, trimmed, syntactically valid, non-placeholder emails; others None."""
    # Arrow-backed strings: the string kernels and regular expressions (RE2) run in C++
    s = raw.astype("string[pyarrow]").str.strip().str.lower()
    # a database array or a JSON list around the addresses ('{a@x.com,b@y.com}', '["a@x.com"]')
    s = s.str.replace(r"^mailto:", "", regex=True).str.strip("<>\"' []{}")
    # spaces typed around the '@' ('john @ x.com') and a full stop after the address ('... x.com.')
    s = s.str.replace(r"\s*@\s*", "@", regex=True).str.rstrip(".")
    s = _with_provider_ending(s.str.replace(r"@([a-z0-9-]+),([a-z]{2,3})$", r"@\1.\2", regex=True))  # 'gmail,com'
    # the first address of a field holding several ('a@x.com; b@y.com'), of a display name ('Jane
    # Doe <jane@x.com>') or before a note ('jane@x.com (work)'); other values stay whole ('jane
    # doe@x.com' is invalid, not 'doe@x.com')
    listed = _flag(s.str.contains(r"[;,<]|@.*@|^[^\s@]+@\S+\s", regex=True)).to_numpy()
    if listed.any():  # pandas' extract runs in Python per value: only the few listed values go through it
        first = s[listed].str.extract(r"([^\s;,<>\"'()\[\]{}]+@[^\s;,<>\"'()\[\]{}]+)", expand=False)
        found = first.notna().to_numpy()
        s = s.copy()
        s.iloc[np.flatnonzero(listed)[found]] = first[found].to_numpy()
    valid = _flag(s.str.match(_VALID))
    # before the first '@' and after the last (the whole value when it has none), as arrow regex
    # replacements: several times faster than extracting them
    local = s.str.replace(r"(?s)@.*", "", regex=True)
    domain = s.str.replace(r"(?s)^.*@", "", regex=True)
    one_char = local.str.slice(1) == local.str.slice(0, -1)  # 'aaaa': every letter equals the next
    junk = _flag(local.isin(_JUNK_LOCAL)) | _flag(domain.isin(_JUNK_DOMAINS)) | _flag(one_char)
    keep = valid & ~junk
    corrected = map_distinct(domain.where(keep, None).astype(object), _provider_domain)
    out = s.astype("object").where(keep, None)
    typo = corrected.notna().to_numpy()
    if typo.any():  # only the few slipped domains are rebuilt, not the whole column
        out[typo] = local[typo].astype("object") + "@" + corrected[typo]
    return out


# a big provider's name typed without its ending ('john.smith@gmail'): the ending it has
_BARE_PROVIDERS = {d.split(".")[0]: d for d in ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "icloud.com",
                                               "aol.com", "comcast.net", "verizon.net", "sbcglobal.net", "googlemail.com")}


def _with_provider_ending(s: pd.Series) -> pd.Series:
    bare = _flag(s.str.contains(r"@(?:" + "|".join(_BARE_PROVIDERS) + r")$", regex=True)).to_numpy()
    if not bare.any():
        return s
    s = s.copy()
    ended = [v.rsplit("@", 1)[0] + "@" + _BARE_PROVIDERS[v.rsplit("@", 1)[1]] for v in s[bare].tolist()]
    s.iloc[np.flatnonzero(bare)] = np.array(ended, dtype=object)
    return s


def _provider_domain(domain: str) -> str | None:
    """The big provider's domain a slip stands for ('gmasil.com' -> gmail.com), else None."""
    if domain in _DOMAIN_TYPOS:
        return _DOMAIN_TYPOS[domain]
    if domain in _PROVIDERS or domain in _REAL_DOMAINS or len(domain) < 7:
        return None
    found = process.extractOne(domain, _PROVIDERS, scorer=OSA.distance, score_cutoff=1)
    return found[0] if found else None


def _flag(values: pd.Series) -> pd.Series:
    """Nullable boolean -> plain bool, missing as False."""
    return values.astype("boolean").fillna(False).astype(bool)


def match_key(email: pd.Series) -> pd.Series:
    """Provider-normalised form for matching: accents folded, '+tag' dropped, Gmail dots dropped,
    googlemail -> gmail (as features.build_features keys emails)."""
    s = map_distinct(email, unidecode).astype("string")
    local = s.str.split("@").str[0].str.replace(r"\+.*$", "", regex=True)
    domain = s.str.split("@").str[-1]
    dotless = domain.isin(list(_DOTLESS)).fillna(False)
    local = local.where(~dotless, local.str.replace(".", "", regex=False))
    domain = domain.replace(_DOTLESS)
    out = (local + "@" + domain).astype("object")
    return out.where(email.notna(), None)
