"""The Dutch and English texts of the console's account tasks (issue 25), added to the front
end's (``services.web.i18n``) with the console's."""

from __future__ import annotations

from services.web import i18n

ACCOUNT_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "account.title": "Account",
        "account.status": "Status",
        "account.status.active": "Actief",
        "account.status.locked": "Geblokkeerd tot {until}",
        "account.status.dormant": "Uitgeschakeld wegens lang niet ingelogd",
        "account.status.out_of_service": "Uit dienst",
        "account.last_login": "Laatst ingelogd",
        "account.never": "Nog nooit",
        "account.failures": "Mislukte pogingen (die nu meetellen)",
        "account.unlock.title": "Account van {name} deblokkeren",
        "account.unlock.why": (
            "De mislukte inlogpogingen tellen dan niet meer mee, in beide zones. Doe dit alleen "
            "als u weet dat de medewerker zelf het wachtwoord vergat."
        ),
        "account.unlock.confirm": "Ja, deblokkeren",
        "account.unlock.done": "Het account van {name} is gedeblokkeerd",
        "account.sessions.title": "Alle sessies van {name} beëindigen",
        "account.sessions.why": (
            "Overal waar de medewerker nu is ingelogd, ook in andere toepassingen, wordt de "
            "sessie beëindigd. Daarna moet opnieuw worden ingelogd."
        ),
        "account.sessions.confirm": "Ja, alle sessies beëindigen",
        "account.sessions.done": "Alle sessies van {name} zijn beëindigd",
        "account.password.title": "Wachtwoord van {name} resetten",
        "account.password.why": (
            "U krijgt een tijdelijk wachtwoord om aan de medewerker te geven. Bij de volgende "
            "keer inloggen kiest de medewerker zelf een nieuw wachtwoord. Alle sessies van de "
            "medewerker worden beëindigd."
        ),
        "account.password.confirm": "Ja, wachtwoord resetten",
        "account.password.done": "Het wachtwoord van {name} is gereset",
        "account.password.hand_over": "Geef dit tijdelijke wachtwoord persoonlijk door:",
        "account.password.once": "U ziet het alleen nu; het wordt nergens bewaard.",
        "account.back": "Terug naar {name}",
        "account.activation.title": "Activeringscode van {name} opnieuw versturen",
        "account.activation.why": (
            "De medewerker krijgt een nieuwe activeringscode op het eigen e-mailadres; de vorige "
            "werkt dan niet meer. U ziet de code zelf niet."
        ),
        "account.activation.confirm": "Ja, opnieuw versturen",
        "account.activation.done": "De activeringscode van {name} is opnieuw verstuurd",
        "console.problem.no-activation-waiting": (
            "Er wacht geen activeringscode: de medewerker is nog niet begonnen met instellen, "
            "of heeft de code al gebruikt. Bij de volgende keer inloggen wordt een code "
            "verstuurd."
        ),
        "account.filter": "Medewerkers filteren",
        "account.filter.active": "Actief",
        "account.filter.locked": "Geblokkeerd",
        "account.filter.dormant": "Uitgeschakeld (lang niet ingelogd)",
        "account.filter.out_of_service": "Uit dienst",
        "account.filter.no_factor": "Zonder tweede stap",
        "account.none": "Geen",
        "account.activation_until": "Activeringscode verstuurd, geldig tot {until}",
        "account.factors": "Inlogmethoden",
        "account.no_factors": "Nog geen tweede stap ingesteld.",
        "account.factor_since": "sinds {since}",
        "account.remove": "Verwijderen",
        "account.remove.title": "{kind} van {name} verwijderen",
        "account.remove.why": (
            "Alleen deze inlogmethode wordt uitgeschakeld, in beide zones; de andere blijven. "
            "De medewerker krijgt hierover een e-mail."
        ),
        "account.remove.confirm": "Ja, verwijderen",
        "account.remove.done": "De inlogmethode van {name} is verwijderd",
    },
    "en": {
        "account.title": "Account",
        "account.status": "Status",
        "account.status.active": "Active",
        "account.status.locked": "Locked until {until}",
        "account.status.dormant": "Disabled for not logging in for long",
        "account.status.out_of_service": "Out of service",
        "account.last_login": "Last login",
        "account.never": "Never",
        "account.failures": "Failed attempts (counting now)",
        "account.unlock.title": "Unlock the account of {name}",
        "account.unlock.why": (
            "The failed attempts no longer count, in both zones. Only do this when you know the "
            "employee forgot the password themselves."
        ),
        "account.unlock.confirm": "Yes, unlock",
        "account.unlock.done": "The account of {name} is unlocked",
        "account.sessions.title": "End every session of {name}",
        "account.sessions.why": (
            "Wherever the employee is logged in now, other applications included, the session "
            "ends. They must log in again."
        ),
        "account.sessions.confirm": "Yes, end every session",
        "account.sessions.done": "Every session of {name} has ended",
        "account.password.title": "Reset the password of {name}",
        "account.password.why": (
            "You get a temporary password to give the employee. At their next login they choose "
            "a new password themselves. Every session of the employee ends."
        ),
        "account.password.confirm": "Yes, reset the password",
        "account.password.done": "The password of {name} is reset",
        "account.password.hand_over": "Give this temporary password in person:",
        "account.password.once": "You see it only now; it is not kept anywhere.",
        "account.back": "Back to {name}",
        "account.activation.title": "Send the activation code of {name} again",
        "account.activation.why": (
            "The employee gets a new activation code at their own e-mail address; the previous "
            "one stops working. You do not see the code yourself."
        ),
        "account.activation.confirm": "Yes, send again",
        "account.activation.done": "The activation code of {name} is sent again",
        "console.problem.no-activation-waiting": (
            "No activation code is waiting: the employee has not started setting up, or "
            "already used the code. A code is sent at their next login."
        ),
        "account.filter": "Filter employees",
        "account.filter.active": "Active",
        "account.filter.locked": "Locked",
        "account.filter.dormant": "Disabled (no login for long)",
        "account.filter.out_of_service": "Out of service",
        "account.filter.no_factor": "Without a second step",
        "account.none": "None",
        "account.activation_until": "Activation code sent, valid until {until}",
        "account.factors": "Sign-in methods",
        "account.no_factors": "No second step set up yet.",
        "account.factor_since": "since {since}",
        "account.remove": "Remove",
        "account.remove.title": "Remove {kind} of {name}",
        "account.remove.why": (
            "Only this sign-in method is switched off, in both zones; the others stay. The "
            "employee gets an e-mail about it."
        ),
        "account.remove.confirm": "Yes, remove",
        "account.remove.done": "The sign-in method of {name} is removed",
    },
}


def register() -> None:
    """Add the texts to the front end's (idempotent; a key it has keeps its text)."""
    for locale, texts in ACCOUNT_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)
