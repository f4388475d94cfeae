"""How an address is shown back (``sent_to``): enough to recognise it, not to harvest it."""

from __future__ import annotations


def mask_email(address: str) -> str:
    """``piet.devries@fysio-jansen.nl`` → ``p***s@fysio-jansen.nl``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    shown = local[0] + "***" + (local[-1] if len(local) >= 4 else "")
    return f"{shown}@{domain}"


def mask_phone(number: str) -> str:
    """``+31612345678`` → ``+31*******78``: the country code and the last two digits."""
    if len(number) < 7:
        return "***"
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask(address: str) -> str:
    return mask_email(address) if "@" in address else mask_phone(address)
