"""Roles and what each may do. Analysts see emails, phones and national ids masked."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("agent", "analyst", "admin")

# agent: the call-centre screen pop (lookup, cards, source records, with contact details);
# analyst: SQL and lookups over masked data; admin: everything, including erasure and review.
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"lookup", "read_customer", "read_records"}),
    "analyst": frozenset({"lookup", "read_customer", "read_records", "query", "export"}),
    "admin": frozenset({"lookup", "read_customer", "read_records", "query", "export", "erase", "review",
                        "audit", "keys"}),
}
MASKED_ROLES = frozenset({"analyst"})


class PermissionDenied(PermissionError):
    """The caller's role does not allow this action."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's name and role, or a local operator of the CLI."""
    name: str
    role: str
    key_id: str | None = None

    @property
    def masked(self) -> bool:
        return self.role in MASKED_ROLES

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"role '{self.role}' may not {permission}; "
                                   f"roles that may: {', '.join(r for r in ROLES if permission in PERMISSIONS[r])}")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}': choose one of {', '.join(ROLES)}")
    return role
