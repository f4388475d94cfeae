"""The provider's Dutch and English texts, added to the front end's (``services.web.i18n``)
when its routes are loaded, as the console's are; a key the front end already has keeps its
text."""

from __future__ import annotations

from services.web import i18n

OIDC_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "oidc.error": "Deze aanvraag kan niet worden uitgevoerd",
        "oidc.error_why": (
            "De toepassing die u hierheen stuurde, vroeg iets wat Tweestap niet kan geven. U "
            "wordt daarom niet teruggestuurd. Neem contact op met de leverancier van die "
            "toepassing als dit blijft gebeuren."
        ),
        "oidc.detail": "Technische melding",
        "oidc.unknown_client": "Deze toepassing is niet bij Tweestap aangemeld.",
        "oidc.redirect_unregistered": (
            "Het terugkeeradres van deze toepassing is niet bij Tweestap aangemeld."
        ),
        "oidc.redirect_missing": "De toepassing gaf niet aan waarheen u terug moet.",
        "oidc.request_invalid": "De aanvraag van de toepassing is ongeldig.",
        "oidc.request_uri": (
            "De aanvraag van de toepassing is verlopen of onbekend. Ga terug naar de "
            "toepassing en probeer het opnieuw."
        ),
        "oidc.nothing_pending": (
            "Er wacht geen aanvraag van een toepassing meer. Ga terug naar de toepassing en "
            "probeer het opnieuw."
        ),
        "oidc.continue_to": "Na het inloggen gaat u verder naar {client}.",
        "oidc.recovery_title": "Uw nieuwe herstelcode",
        "oidc.recovery_then": "Nadat u hem hebt bewaard, gaat u verder naar {client}.",
        "oidc.continue": "Verder",
        "oidc.logout_title": "Uitloggen bij Tweestap",
        "oidc.logout_question": (
            "Wilt u uitloggen bij Tweestap? U wordt dan ook uitgelogd bij de andere "
            "toepassingen waarvoor u via Tweestap bent ingelogd."
        ),
        "oidc.logout_from": "Dit werd gevraagd door {client}.",
        "oidc.logout_yes": "Ja, uitloggen",
        "oidc.logout_no": "Nee, ingelogd blijven",
        "oidc.logged_out": "U bent uitgelogd",
        "oidc.logged_out_text": "U bent uitgelogd bij Tweestap. U kunt dit venster sluiten.",
    },
    "en": {
        "oidc.error": "This request cannot be completed",
        "oidc.error_why": (
            "The application that sent you here asked for something Tweestap cannot give, so "
            "you are not sent back to it. Contact that application's supplier if this keeps "
            "happening."
        ),
        "oidc.detail": "Technical message",
        "oidc.unknown_client": "This application is not registered with Tweestap.",
        "oidc.redirect_unregistered": (
            "This application's return address is not registered with Tweestap."
        ),
        "oidc.redirect_missing": "The application did not say where you should return to.",
        "oidc.request_invalid": "The application's request is not valid.",
        "oidc.request_uri": (
            "The application's request has expired or is unknown. Go back to the application "
            "and try again."
        ),
        "oidc.nothing_pending": (
            "No application's request is waiting any more. Go back to the application and try "
            "again."
        ),
        "oidc.continue_to": "After logging in you continue to {client}.",
        "oidc.recovery_title": "Your new recovery code",
        "oidc.recovery_then": "Once you have stored it, you continue to {client}.",
        "oidc.continue": "Continue",
        "oidc.logout_title": "Log out of Tweestap",
        "oidc.logout_question": (
            "Do you want to log out of Tweestap? This also logs you out of the other "
            "applications you logged in to through Tweestap."
        ),
        "oidc.logout_from": "{client} asked for this.",
        "oidc.logout_yes": "Yes, log out",
        "oidc.logout_no": "No, stay logged in",
        "oidc.logged_out": "You are logged out",
        "oidc.logged_out_text": "You are logged out of Tweestap. You may close this window.",
    },
}


def register() -> None:
    """Add the provider's texts to the front end's (its routes module does, when loaded)."""
    for locale, texts in OIDC_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)
