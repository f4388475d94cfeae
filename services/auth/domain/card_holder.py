"""Who a verified card logs in — pure, no I/O: the employee whose recorded UZI (Dezi) number
is the card's, at the practice whose URA is the card's. Never by name or e-mail address."""

from __future__ import annotations

from services.auth.domain.dezi import Linked


class NotAllowed(Exception):
    """The card names nobody it may log in as; ``slug`` is the problem type."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


def choose(linked: list[Linked], ura: str, practice: str | None) -> Linked:
    """The one of ``linked`` (the employees with the card's UZI number, with their practices'
    URA) at a practice of the card's ``ura``; and at ``practice`` when the login names one."""
    asked = [found for found in linked if practice is None or found.practice == practice]
    if not asked:
        raise NotAllowed(
            "card-not-linked",
            "No employee has this card's UZI number; the practice's administrator records it "
            "with the employee.",
        )
    fitting = [found for found in asked if found.ura is not None and found.ura == ura]
    if not fitting:
        raise NotAllowed(
            "card-wrong-organisation",
            "This card is of another care organisation (its URA) than the practice's.",
        )
    if len(fitting) > 1:
        raise NotAllowed(
            "card-ambiguous", "This card logs in to several practices: name the practice."
        )
    return fitting[0]
