"""Keep personal data out of reports: pseudonymous customer ids.

Reports show a customer id only where a table needs one, and then as a short,
salted SHA-256 digest so that a reviewer can tell customers apart without learning
who they are. The salt is the config name plus its seed, so the same customer gets
the same pseudonym within one project and a different one in another.
"""

from __future__ import annotations

import hashlib

import pandas as pd

__all__ = ["pseudonymise", "pseudonym_salt"]


def pseudonym_salt(config: dict) -> str:
    """Salt used for a config's pseudonyms (config name and seed)."""
    return f"{config.get('name', '')}:{config.get('seed', 0)}"


def pseudonymise(
    ids: pd.Series | pd.Index, *, salt: str = "", length: int = 10
) -> pd.Series:
    """Replace customer ids by stable salted digests, e.g. ``c-3f9a1b2c4d``.

    Parameters
    ----------
    ids : Series or Index
        Customer ids (any type; compared as strings).
    salt : str
        Secret or project-specific salt (see :func:`pseudonym_salt`).
    length : int
        Number of hex digits kept (10 by default: collisions are negligible below
        millions of customers).

    Returns
    -------
    Series
        Same length and index as a Series input (a fresh RangeIndex for an Index).
    """
    values = pd.Series(ids) if isinstance(ids, pd.Index) else ids
    digests = [
        "c-" + hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()[:length]
        for value in values.astype(str)
    ]
    return pd.Series(digests, index=values.index, name=values.name, dtype="str")
