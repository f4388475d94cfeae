"""The Dezi login's and link's Dutch and English texts (docs/adr/0014), added to the front
end's (``services.web.i18n``) when its routes are loaded; a key the front end already has keeps
its text."""

from __future__ import annotations

from services.web import i18n

DEZI_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "dezi.link": "Inloggen met Dézi",
        "dezi.title": "Inloggen met Dézi",
        "dezi.refused": "Inloggen met Dézi is niet gelukt",
        "dezi.again": "Opnieuw inloggen met Dézi",
        "dezi.back": "Terug naar inloggen",
        "dezi.factors": "Terug naar mijn inlogmethoden",
        "dezi.link_title": "Dézi koppelen",
        "dezi.link_intro": (
            "Koppel uw Dézi-identiteit aan uw account, zodat u voortaan met Dézi kunt inloggen. "
            "U logt daarvoor één keer in bij Dézi; Tweestap legt dan uw UZI-nummer vast."
        ),
        "dezi.link_button": "Dézi koppelen",
        "dezi.linked": "Dézi is gekoppeld aan uw account (UZI-nummer {number}).",
        "dezi.linked_title": "Dézi gekoppeld",
        "dezi.off": "Inloggen met Dézi kan hier niet.",
        "dezi.cancelled": "Het inloggen bij Dézi is afgebroken; er is niemand ingelogd.",
        "dezi.no_request": (
            "Deze inlogpoging is verlopen of niet in deze browser begonnen; er is niemand "
            "ingelogd. Begin opnieuw."
        ),
        "error.upstream-unavailable": (
            "Dézi is nu niet bereikbaar; er is niets veranderd. Probeer het over een paar "
            "minuten opnieuw, of log in met uw wachtwoord."
        ),
        "error.upstream-identity-unlinked": (
            "Uw Dézi-identiteit is niet gekoppeld aan een medewerker. Vraag de beheerder van uw "
            "praktijk uw UZI-nummer vast te leggen, of log in met uw wachtwoord en tweede "
            "factor en koppel Dézi zelf bij uw inlogmethoden."
        ),
        "error.upstream-ura-mismatch": (
            "Dézi zegt dat u inlogt voor een andere zorgaanbieder (URA) dan de praktijk waaraan "
            "u gekoppeld bent; er is niemand ingelogd."
        ),
        "error.upstream-identity-refused": (
            "Het antwoord van Dézi kon niet worden gecontroleerd (handtekening of kenmerk "
            "klopt niet); er is niemand ingelogd. Probeer het opnieuw."
        ),
        "error.upstream-level-too-low": (
            "Dézi heeft niet op betrouwbaarheidsniveau hoog ingelogd; er is niemand ingelogd."
        ),
        "error.upstream-identity-ambiguous": (
            "Uw Dézi-identiteit is aan meer medewerkers van deze zorgaanbieder gekoppeld. "
            "Vraag de beheerder dat op te lossen."
        ),
        "error.upstream-request-invalid": (
            "Deze inlogpoging hoort niet bij deze browser of is verlopen; er is niemand "
            "ingelogd. Begin opnieuw."
        ),
        "error.upstream-code-refused": (
            "Dézi accepteert deze inlogpoging niet meer (al gebruikt of verlopen). Begin opnieuw."
        ),
        "error.upstream-unknown": "Inloggen met Dézi kan hier niet.",
        "error.practice-without-ura": (
            "Het URA-nummer van uw praktijk is nog niet vastgelegd. Vraag de beheerder dat te "
            "doen bij de instellingen van de praktijk."
        ),
        "error.dezi-number-taken": (
            "Dit UZI-nummer is al gekoppeld aan een andere medewerker van uw praktijk."
        ),
        "error.dezi-link-refused": "De koppeling met Dézi is niet gelukt. Probeer het opnieuw.",
    },
    "en": {
        "dezi.link": "Log in with Dézi",
        "dezi.title": "Log in with Dézi",
        "dezi.refused": "Logging in with Dézi did not succeed",
        "dezi.again": "Log in with Dézi again",
        "dezi.back": "Back to the login page",
        "dezi.factors": "Back to my sign-in methods",
        "dezi.link_title": "Link Dézi",
        "dezi.link_intro": (
            "Link your Dézi identity to your account to log in with Dézi from now on. You log "
            "in at Dézi once; Tweestap then records your UZI number."
        ),
        "dezi.link_button": "Link Dézi",
        "dezi.linked": "Dézi is linked to your account (UZI number {number}).",
        "dezi.linked_title": "Dézi linked",
        "dezi.off": "Logging in with Dézi is not available here.",
        "dezi.cancelled": "Logging in at Dézi was cancelled; nobody was logged in.",
        "dezi.no_request": (
            "This login has expired or did not start in this browser; nobody was logged in. "
            "Start again."
        ),
        "error.upstream-unavailable": (
            "Dézi cannot be reached now; nothing was changed. Try again in a few minutes, or "
            "log in with your password."
        ),
        "error.upstream-identity-unlinked": (
            "Your Dézi identity is not linked to an employee. Ask your practice's "
            "administrator to record your UZI number, or log in with your password and second "
            "factor and link Dézi yourself under your sign-in methods."
        ),
        "error.upstream-ura-mismatch": (
            "Dézi says you log in for another care provider (URA) than the practice you are "
            "linked to; nobody was logged in."
        ),
        "error.upstream-identity-refused": (
            "Dézi's answer could not be verified (signature or nonce); nobody was logged in. "
            "Try again."
        ),
        "error.upstream-level-too-low": (
            "Dézi did not log you in at assurance level high; nobody was logged in."
        ),
        "error.upstream-identity-ambiguous": (
            "Your Dézi identity is linked to several employees of this care provider. Ask the "
            "administrator to fix that."
        ),
        "error.upstream-request-invalid": (
            "This login does not belong to this browser or has expired; nobody was logged in. "
            "Start again."
        ),
        "error.upstream-code-refused": (
            "Dézi no longer accepts this login (used or expired). Start again."
        ),
        "error.upstream-unknown": "Logging in with Dézi is not available here.",
        "error.practice-without-ura": (
            "Your practice's URA is not recorded yet. Ask the administrator to set it in the "
            "practice's settings."
        ),
        "error.dezi-number-taken": (
            "This UZI number is already linked to another employee of your practice."
        ),
        "error.dezi-link-refused": "Linking Dézi did not succeed. Try again.",
    },
}


def register() -> None:
    """Add the Dezi texts to the front end's (its routes module does, when loaded)."""
    for locale, texts in DEZI_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)
