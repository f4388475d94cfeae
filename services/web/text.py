"""Text shaped for reading aloud or typing over: pure."""

from __future__ import annotations


def grouped(value: object, size: int = 4) -> str:
    """``JBSWY3DPEHPK3PXP`` → ``JBSW Y3DP EHPK 3PXP``: a key to type by hand, in groups."""
    text = str(value)
    return " ".join(text[i : i + size] for i in range(0, len(text), size))
