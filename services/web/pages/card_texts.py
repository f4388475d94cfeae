"""The card login's Dutch and English texts (UZI-pas, PKIoverheid; ADR 0013), added to the
front end's (``services.web.i18n``) when its routes are loaded; a key the front end already has
keeps its text."""

from __future__ import annotations

from services.web import i18n

CARD_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "card.link": "Inloggen met UZI-pas",
        "card.title": "Inloggen met UZI-pas of PKIoverheid-certificaat",
        "card.intro": (
            "Plaats uw UZI-pas in de kaartlezer. Uw browser vraagt welk certificaat u wilt "
            "gebruiken en daarna om de pincode van de pas."
        ),
        "card.practice_hint": (
            "Praktijk (alleen nodig als u met deze pas bij meer praktijken werkt)"
        ),
        "card.button": "Inloggen met mijn pas",
        "card.back": "Terug naar inloggen met wachtwoord",
        "card.none": (
            "Er is geen UZI-pas of certificaat ontvangen. Controleer of de pas in de kaartlezer "
            "zit, sluit alle browservensters en probeer het opnieuw."
        ),
        "card.off": "Inloggen met een UZI-pas kan hier niet.",
        "error.certificate-expired": "Het certificaat van uw pas is verlopen.",
        "error.certificate-not-yet-valid": "Het certificaat van uw pas is nog niet geldig.",
        "error.certificate-revoked": (
            "Het certificaat van uw pas is ingetrokken. Neem contact op met het UZI-register."
        ),
        "error.untrusted-certificate": (
            "Dit certificaat is niet uitgegeven door het UZI-register of PKIoverheid."
        ),
        "error.wrong-key-usage": (
            "Dit certificaat is niet bedoeld om mee in te loggen (kies het "
            "authenticatiecertificaat van uw pas)."
        ),
        "error.malformed-certificate": "Dit certificaat heeft niet de vorm van een UZI-pas.",
        "error.unreadable-certificate": "Het certificaat van uw pas kan niet worden gelezen.",
        "error.revocation-unavailable": (
            "Of uw pas nog geldig is, kan nu niet worden nagegaan. Probeer het over een paar "
            "minuten opnieuw."
        ),
        "error.card-wrong-organisation": (
            "Deze pas hoort bij een andere zorgaanbieder (URA) dan deze praktijk."
        ),
        "error.card-not-linked": (
            "Deze pas is niet gekoppeld aan een medewerker. Vraag de beheerder van uw "
            "praktijk uw UZI-nummer vast te leggen."
        ),
        "error.card-ambiguous": ("Met deze pas werkt u bij meer praktijken: vul de praktijk in."),
        "error.invalid-statement": "De inlogpoging is verlopen. Probeer het opnieuw.",
        "error.means-not-available": "Inloggen met een UZI-pas kan hier niet.",
        "error.account-disabled": "Dit account is niet (meer) in dienst.",
        "uzi.number": "UZI-nummer",
        "uzi.card_type": "Pastype",
        "uzi.card_type.Z": "Zorgverlenerpas (Z)",
        "uzi.card_type.N": "Medewerkerpas op naam (N)",
        "uzi.card_type.M": "Medewerkerpas niet op naam (M)",
        "uzi.card_type.S": "Servercertificaat (S)",
        "uzi.role": "Rol",
        "uzi.agb": "AGB-code",
        "uzi.subscriber": "Abonneenummer",
        "uzi.ura": "URA",
    },
    "en": {
        "card.link": "Log in with a UZI card",
        "card.title": "Log in with a UZI card or PKIoverheid certificate",
        "card.intro": (
            "Put your UZI card in the card reader. Your browser asks which certificate to use, "
            "then for the card's PIN."
        ),
        "card.practice_hint": "Practice (only if you work at several practices with this card)",
        "card.button": "Log in with my card",
        "card.back": "Back to logging in with a password",
        "card.none": (
            "No UZI card or certificate was received. Check that the card is in the reader, "
            "close every browser window and try again."
        ),
        "card.off": "Logging in with a UZI card is not available here.",
        "error.certificate-expired": "Your card's certificate has expired.",
        "error.certificate-not-yet-valid": "Your card's certificate is not valid yet.",
        "error.certificate-revoked": (
            "Your card's certificate has been revoked. Contact the UZI register."
        ),
        "error.untrusted-certificate": (
            "This certificate was not issued by the UZI register or PKIoverheid."
        ),
        "error.wrong-key-usage": (
            "This certificate is not for logging in (choose your card's authentication "
            "certificate)."
        ),
        "error.malformed-certificate": "This certificate is not a UZI card's.",
        "error.unreadable-certificate": "Your card's certificate cannot be read.",
        "error.revocation-unavailable": (
            "Whether your card is still valid cannot be checked right now. Try again in a few "
            "minutes."
        ),
        "error.card-wrong-organisation": (
            "This card belongs to another care provider (URA) than this practice."
        ),
        "error.card-not-linked": (
            "This card is not linked to an employee. Ask your practice's administrator to "
            "record your UZI number."
        ),
        "error.card-ambiguous": (
            "You work at several practices with this card: fill in the practice."
        ),
        "error.invalid-statement": "The login attempt has expired. Please try again.",
        "error.means-not-available": "Logging in with a UZI card is not available here.",
        "error.account-disabled": "This account is not (or no longer) in service.",
        "uzi.number": "UZI number",
        "uzi.card_type": "Card type",
        "uzi.card_type.Z": "Care provider card (Z)",
        "uzi.card_type.N": "Named employee card (N)",
        "uzi.card_type.M": "Unnamed employee card (M)",
        "uzi.card_type.S": "Server certificate (S)",
        "uzi.role": "Role",
        "uzi.agb": "AGB code",
        "uzi.subscriber": "Subscriber number",
        "uzi.ura": "URA",
    },
}


def register() -> None:
    """Add the card login's texts to the front end's (its routes module does, when loaded)."""
    for locale, texts in CARD_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)
