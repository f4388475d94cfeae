"""The Dutch and English texts of the employee's own account tasks (issue 25): removing a
sign-in method, renaming a passkey, ending every session, the recovery code's page. Added to the
front end's (``services.web.i18n``) when the pages' module is loaded; a key the front end already
has keeps its text."""

from __future__ import annotations

from services.web import i18n

OWN_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "own.actions": "Acties",
        "own.remove": "Verwijderen",
        "own.remove.label": "{kind} verwijderen",
        "own.remove.title": "{kind} verwijderen",
        "own.remove.why": (
            "U kunt daarna niet meer met deze inlogmethode inloggen, in geen enkele zone. U "
            "krijgt een e-mail over deze wijziging. Uw laatste authenticator-app of passkey kunt "
            "u niet verwijderen."
        ),
        "own.remove.confirm": "Ja, verwijderen",
        "own.removed": "De inlogmethode is verwijderd.",
        "own.cancel": "Annuleren",
        "error.last-strong-factor": (
            "Dit is uw enige authenticator-app of passkey. Voeg eerst een andere toe, of vraag "
            "de beheerder van uw praktijk om hulp."
        ),
        "error.forbidden": "Dit mag u niet doen.",
        "own.app.section": "Nieuwe telefoon?",
        "own.app.start": "Authenticator-app vervangen",
        "own.app.title": "Authenticator-app vervangen",
        "own.app.old_stays": (
            "Uw huidige app blijft werken tot u hieronder de eerste code uit de nieuwe app invoert."
        ),
        "own.app.again": "Opnieuw beginnen",
        "own.app.replaced": "Uw nieuwe authenticator-app is ingesteld; de oude werkt niet meer.",
        "error.no-authenticator": "U heeft nog geen authenticator-app om te vervangen.",
        "own.sessions.title": "Overal uitloggen",
        "own.sessions.why": (
            "Bent u ergens ingelogd gebleven, of kwijt u een apparaat? Hiermee beëindigt u al uw "
            "sessies, ook in andere toepassingen en op deze computer."
        ),
        "own.sessions.button": "Overal uitloggen",
        "own.sessions.failed": "Uitloggen is niet gelukt. Probeer het opnieuw.",
        "own.where.title": "Waar u bent ingelogd",
        "own.where.since": "Sinds {since} vanaf {address}",
        "own.where.unknown": "een onbekend adres",
        "own.where.app": "toepassing {client}",
        "own.where.this": "deze sessie",
        "own.name": "Naam wijzigen",
        "own.name.label": "Naam van {name} wijzigen",
        "own.name.title": "Naam van de passkey wijzigen",
        "own.name.field": "Nieuwe naam",
        "own.name.hint": (
            "Bijvoorbeeld: Mijn telefoon of Beveiligingssleutel (hoogstens 100 tekens)."
        ),
        "own.name.save": "Naam opslaan",
        "own.name.invalid": "Vul een naam in van 1 tot 100 tekens.",
        "own.named": "De naam is gewijzigd.",
        "error.factor-not-named": "Alleen een passkey kunt u een naam geven.",
        "own.used": "Laatst gebruikt",
        "own.used.unknown": "Niet bekend",
        "own.recovery.title": "Nieuwe herstelcode maken",
        "own.recovery.why": (
            "Uw huidige herstelcode werkt daarna niet meer. De nieuwe ziet u één keer: druk "
            "hem af of bewaar hem op een veilige plek."
        ),
        "own.recovery.confirm": "Ja, nieuwe herstelcode maken",
    },
    "en": {
        "own.actions": "Actions",
        "own.remove": "Remove",
        "own.remove.label": "Remove {kind}",
        "own.remove.title": "Remove {kind}",
        "own.remove.why": (
            "You can then no longer log in with this sign-in method, in any zone. You will "
            "receive an e-mail about this change. Your last authenticator app or passkey cannot "
            "be removed."
        ),
        "own.remove.confirm": "Yes, remove",
        "own.removed": "The sign-in method has been removed.",
        "own.cancel": "Cancel",
        "error.last-strong-factor": (
            "This is your only authenticator app or passkey. Add another one first, or ask your "
            "practice administrator for help."
        ),
        "error.forbidden": "You may not do this.",
        "own.app.section": "New phone?",
        "own.app.start": "Replace the authenticator app",
        "own.app.title": "Replace the authenticator app",
        "own.app.old_stays": (
            "Your current app keeps working until you enter the first code from the new app below."
        ),
        "own.app.again": "Start again",
        "own.app.replaced": "Your new authenticator app is set up; the old one no longer works.",
        "error.no-authenticator": "You have no authenticator app to replace yet.",
        "own.sessions.title": "Log out everywhere",
        "own.sessions.why": (
            "Did you stay logged in somewhere, or lose a device? This ends all your sessions, "
            "in other applications and on this computer too."
        ),
        "own.sessions.button": "Log out everywhere",
        "own.sessions.failed": "Logging out did not work. Please try again.",
        "own.where.title": "Where you are logged in",
        "own.where.since": "Since {since} from {address}",
        "own.where.unknown": "an unknown address",
        "own.where.app": "application {client}",
        "own.where.this": "this session",
        "own.name": "Rename",
        "own.name.label": "Rename {name}",
        "own.name.title": "Rename the passkey",
        "own.name.field": "New name",
        "own.name.hint": "For example: My phone or Security key (at most 100 characters).",
        "own.name.save": "Save name",
        "own.name.invalid": "Enter a name of 1 to 100 characters.",
        "own.named": "The name has been changed.",
        "error.factor-not-named": "Only a passkey can be given a name.",
        "own.used": "Last used",
        "own.used.unknown": "Not known",
        "own.recovery.title": "Make a new recovery code",
        "own.recovery.why": (
            "Your current recovery code then stops working. You see the new one once: print it "
            "or keep it somewhere safe."
        ),
        "own.recovery.confirm": "Yes, make a new recovery code",
    },
}


def register() -> None:
    """Add these texts to the front end's (the pages' module does, when loaded)."""
    for locale, texts in OWN_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)
