"""Dutch (default) and English texts; the locale comes from the session, else Accept-Language."""

from __future__ import annotations

from shared import factor_kinds

LOCALES = ("nl", "en")

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Tweestap",
        "nav": "Menu",
        "nav.factors": "Mijn inlogmethoden",
        "nav.console": "Beheer",
        "login": "Inloggen",
        "practice": "Praktijk",
        "username": "Gebruikersnaam",
        "password": "Wachtwoord",
        "next": "Verder",
        "back": "Terug",
        "date_hint": "Bijvoorbeeld 17 5 1980",
        "date_day": "Dag",
        "date_month": "Maand",
        "date_year": "Jaar",
        "cancel": "Annuleren",
        "code_valid_until": "De code is geldig tot {time}.",
        "why_identity": (
            "Met uw geboortedatum en BSN controleren we dat u het echt bent: ze moeten "
            "overeenkomen met wat uw praktijk van u heeft vastgelegd."
        ),
        "bsn_hint": "9 cijfers. U vindt uw BSN op uw paspoort, identiteitskaart of rijbewijs.",
        "no_code_received": "Geen code ontvangen?",
        "send_new_code": "Stuur een nieuwe code",
        "apps_named": (
            "Gebruik een authenticator-app op uw telefoon, bijvoorbeeld Google Authenticator, "
            "Microsoft Authenticator of FreeOTP."
        ),
        "same_phone": "Leest u dit op de telefoon met de app? Stel de app dan hier in.",
        "secret_grouped_help": "In groepen van vier tekens; de spaties hoeft u niet te typen.",
        "copy_key": "Sleutel kopiëren",
        "key_copied": "De sleutel is gekopieerd.",
        "six_digits": "De 6 cijfers die de app nu toont.",
        "new_password": "Nieuw wachtwoord",
        "change_password": "Kies een nieuw wachtwoord",
        "change_password_why": "Uw wachtwoord moet worden vervangen voordat u verder kunt.",
        "choose_factor": "Kies hoe u zich tweede keer bevestigt",
        "code": "Code",
        "code_sent": "Er is een code verstuurd naar {sent_to}.",
        "confirm": "Bevestigen",
        "passkey_prompt": "Gebruik uw passkey om in te loggen.",
        "passkey_button": "Passkey gebruiken",
        "passkey_needs_js": "Voor een passkey is JavaScript nodig.",
        "passkey_not_allowed": (
            "De passkey is niet gebruikt: u hebt het afgebroken of het duurde te lang. Probeer "
            "het opnieuw."
        ),
        "passkey_invalid_state": "Deze passkey is al toegevoegd of hoort niet bij dit account.",
        "passkey_security": "Deze pagina mag deze passkey niet gebruiken (adres of verbinding).",
        "passkey_unsupported": "Deze browser of dit apparaat ondersteunt deze passkey niet.",
        "passkey_other": (
            "De passkey kon niet worden gebruikt. Probeer het opnieuw of kies een andere "
            "inlogmethode."
        ),
        "certificate_browser": (
            "Inloggen met een certificaat kan niet vanuit de browser: de ondertekening gebeurt "
            "met de pas in de praktijksoftware. Kies een andere manier."
        ),
        "enrol_needed": "U moet eerst de tweestapsverificatie instellen.",
        "to_wizard": "Naar de wizard",
        "errors": "Er ging iets mis",
        "error_prefix": "Fout:",
        "logout": "Uitloggen",
        "my_factors": "Mijn inlogmethoden",
        "kind": "Soort",
        "name": "Naam",
        "added": "Toegevoegd",
        "no_factors": "Geen inlogmethoden.",
        "logged_in_as": "Ingelogd",
        "csrf_refused": (
            "Dit formulier is geweigerd: het beveiligingskenmerk ontbreekt of klopt niet. "
            "Ga terug, laad de pagina opnieuw en probeer het nog eens."
        ),
        "forbidden": "Geweigerd",
        "zones_down": "De dienst is tijdelijk niet bereikbaar. Probeer het later opnieuw.",
        "audit_two_factor_required": (
            "Het logboek is alleen te lezen na inloggen met twee factoren (NEN 7513). Log "
            "opnieuw in met uw tweede factor; vraagt de praktijk nog geen tweede factor, zet dan "
            "eerst tweestapsverificatie aan bij de praktijkinstellingen."
        ),
        "login_expired": "Uw inlogpoging is verlopen. Begin opnieuw.",
        "language": "Taal",
        "back_to_login": "Opnieuw inloggen",
        "error.invalid-credentials": "Praktijk, gebruikersnaam of wachtwoord klopt niet.",
        "error.assurance-level-too-low": (
            "Hiervoor is inloggen op betrouwbaarheidsniveau {level} nodig. {how}"
        ),
        "level.low": "laag",
        "level.substantial": "substantieel",
        "level.high": "hoog",
        "level.how.substantial": "Log in met uw wachtwoord en een tweede stap.",
        "level.how.high": "Log in met Dezi of uw UZI-pas.",
        "error.password-too-weak": "Dit wachtwoord is te zwak",
        "error.code-already-used": "Deze code is al gebruikt. Wacht op de volgende code.",
        "error.invalid-code": "De code klopt niet.",
        "error.account-locked": "Te veel mislukte pogingen; het account is tijdelijk geblokkeerd.",
        "error.account-locked-until": (
            "Te veel mislukte pogingen; het account is geblokkeerd. Probeer het opnieuw om "
            "{time} of neem contact op met de beheerder van uw praktijk."
        ),
        "error.activation-failed": "De activeringscode, geboortedatum of BSN klopt niet.",
        "error.code-expired": "De code is verlopen; vraag een nieuwe aan.",
        "error.challenge-expired": "Deze stap is verlopen; kies opnieuw hoe u zich bevestigt.",
        "error.factor-not-available": "Deze manier kan niet bij deze inlogpoging; kies een andere.",
        "error.passkey-refused": "De passkey is geweigerd",
        "error.reauthentication-required": "Om uw inlogmethoden te wijzigen moet u kort "
        "geleden met twee stappen zijn ingelogd (niet met een certificaat). Log opnieuw in en "
        "probeer het daarna nog eens.",
        "error.too-many-requests": "Te veel inlogpogingen vanaf dit adres; probeer het zo opnieuw.",
        "request_invalid": (
            "Het verzoek is ongeldig; laad de pagina opnieuw en probeer het nog eens."
        ),
        "wizard_not_scanned": "Is de QR-code nog niet gescand, of is de app kwijt?",
        "wizard_again": "Begin opnieuw met uw activeringscode",
        "back_home": "Terug",
        "passkey_add": "Passkey toevoegen",
        "passkey_name": "Naam van de passkey",
        "wizard": "Tweestapsverificatie instellen",
        "activation_code": "Activeringscode",
        "birth_date": "Geboortedatum",
        "bsn": "BSN",
        "scan_qr": "Scan deze QR-code met uw authenticator-app.",
        "manual_secret": "Of voer deze sleutel handmatig in",
        "first_code": "Eerste code uit de app",
        "qr_alt": "QR-code voor de authenticator-app",
        "recovery_shown_once": (
            "Dit is uw herstelcode. Hij wordt maar één keer getoond: print hem of bewaar hem "
            "op een veilige plek."
        ),
        "print": "Afdrukken",
        "done_continue": "Verder",
        "recovery_title": "Uw herstelcode",
        "recovery_copy": "Kopiëren",
        "recovery_copied": "De herstelcode is gekopieerd.",
        "recovery_download": "Downloaden als tekstbestand",
        "recovery_print": "Afdrukken",
        "recovery_file": "tweestap-herstelcode.txt",
        "recovery_file_text": (
            "Uw Tweestap-herstelcode. Bewaar deze op een veilige plek, niet op de computer "
            "waarop u inlogt. U gebruikt hem als u geen toegang hebt tot uw app."
        ),
        "recovery_stored": "Ik heb de herstelcode veilig bewaard",
        "add_sms": "Sms toevoegen",
        "add_email": "E-mail toevoegen",
        "phone": "Telefoonnummer",
        "email": "E-mailadres",
        "new_recovery": "Nieuwe herstelcode",
        "deleted": "verwijderd",
    },
    "en": {
        "title": "Tweestap",
        "nav": "Menu",
        "nav.factors": "My sign-in methods",
        "nav.console": "Administration",
        "login": "Log in",
        "practice": "Practice",
        "username": "Username",
        "password": "Password",
        "next": "Continue",
        "back": "Back",
        "date_hint": "For example 17 5 1980",
        "date_day": "Day",
        "date_month": "Month",
        "date_year": "Year",
        "cancel": "Cancel",
        "code_valid_until": "The code is valid until {time}.",
        "why_identity": (
            "With your birth date and BSN we check that it is really you: they must match what "
            "your practice recorded about you."
        ),
        "bsn_hint": "9 digits. Your BSN is on your passport, identity card or driving licence.",
        "no_code_received": "No code received?",
        "send_new_code": "Send a new code",
        "apps_named": (
            "Use an authenticator app on your phone, for example Google Authenticator, "
            "Microsoft Authenticator or FreeOTP."
        ),
        "same_phone": "Reading this on the phone with the app? Set the app up here.",
        "secret_grouped_help": "In groups of four characters; you need not type the spaces.",
        "copy_key": "Copy the key",
        "key_copied": "The key is copied.",
        "six_digits": "The 6 digits the app shows now.",
        "new_password": "New password",
        "change_password": "Choose a new password",
        "change_password_why": "Your password must be replaced before you can continue.",
        "choose_factor": "Choose your second step",
        "code": "Code",
        "code_sent": "A code was sent to {sent_to}.",
        "confirm": "Confirm",
        "passkey_prompt": "Use your passkey to log in.",
        "passkey_button": "Use passkey",
        "passkey_needs_js": "A passkey needs JavaScript.",
        "passkey_not_allowed": (
            "The passkey was not used: you cancelled, or it took too long. Please try again."
        ),
        "passkey_invalid_state": "This passkey is already added or belongs to another account.",
        "passkey_security": "This page may not use this passkey (its address or connection).",
        "passkey_unsupported": "This browser or device does not support this passkey.",
        "passkey_other": "The passkey could not be used. Try again or choose another method.",
        "certificate_browser": (
            "Logging in with a certificate cannot work from the browser: the card signs inside "
            "the practice software. Choose another way."
        ),
        "enrol_needed": "You must set up two-step verification first.",
        "to_wizard": "To the wizard",
        "errors": "Something went wrong",
        "error_prefix": "Error:",
        "logout": "Log out",
        "my_factors": "My sign-in methods",
        "kind": "Kind",
        "name": "Name",
        "added": "Added",
        "no_factors": "No sign-in methods.",
        "logged_in_as": "Logged in",
        "csrf_refused": (
            "This form was refused: its security token is missing or wrong. "
            "Go back, reload the page and try again."
        ),
        "forbidden": "Refused",
        "zones_down": "The service cannot be reached right now. Please try again later.",
        "audit_two_factor_required": (
            "The audit trail can only be read after logging in with two factors (NEN 7513). "
            "Log in again with your second factor; if the practice does not ask for one yet, "
            "first switch on two-step verification in the practice settings."
        ),
        "login_expired": "Your login attempt has expired. Please start again.",
        "language": "Language",
        "back_to_login": "Log in again",
        "error.invalid-credentials": "Practice, username or password is wrong.",
        "error.assurance-level-too-low": "This needs a login at assurance level {level}. {how}",
        "level.low": "low",
        "level.substantial": "substantial",
        "level.high": "high",
        "level.how.substantial": "Log in with your password and a second step.",
        "level.how.high": "Log in with Dezi or your UZI pass.",
        "error.reauthentication-required": "To change your sign-in methods you must have "
        "logged in with two steps a short while ago (not with a certificate). Log in again, "
        "then try once more.",
        "error.password-too-weak": "This password is too weak",
        "error.code-already-used": "This code was used already. Wait for the next code.",
        "error.invalid-code": "The code is wrong.",
        "error.account-locked": "Too many failed attempts; the account is locked for a while.",
        "error.account-locked-until": (
            "Too many failed attempts; the account is locked. Try again at {time} or contact "
            "your practice's administrator."
        ),
        "error.activation-failed": "The activation code, birth date or BSN is wrong.",
        "error.code-expired": "The code has expired; ask for a new one.",
        "error.challenge-expired": "This step has expired; choose your second step again.",
        "error.factor-not-available": "This way cannot be used for this login; choose another.",
        "error.passkey-refused": "The passkey was refused",
        "error.too-many-requests": "Too many login attempts from this address; try again shortly.",
        "request_invalid": "The request is not valid; reload the page and try again.",
        "wizard_not_scanned": "Not scanned the QR code yet, or lost the app?",
        "wizard_again": "Start again with your activation code",
        "back_home": "Back",
        "passkey_add": "Add a passkey",
        "passkey_name": "Passkey name",
        "wizard": "Set up two-step verification",
        "activation_code": "Activation code",
        "birth_date": "Birth date",
        "bsn": "BSN",
        "scan_qr": "Scan this QR code with your authenticator app.",
        "manual_secret": "Or enter this key by hand",
        "first_code": "First code from the app",
        "qr_alt": "QR code for the authenticator app",
        "recovery_shown_once": (
            "This is your recovery code. It is shown only once: print it or keep it somewhere safe."
        ),
        "print": "Print",
        "done_continue": "Continue",
        "recovery_title": "Your recovery code",
        "recovery_copy": "Copy",
        "recovery_copied": "The recovery code is copied.",
        "recovery_download": "Download as a text file",
        "recovery_print": "Print",
        "recovery_file": "tweestap-recovery-code.txt",
        "recovery_file_text": (
            "Your Tweestap recovery code. Keep it somewhere safe, not on the computer you log "
            "in on. You use it when you cannot reach your app."
        ),
        "recovery_stored": "I have stored the recovery code safely",
        "add_sms": "Add text message",
        "add_email": "Add e-mail",
        "phone": "Phone number",
        "email": "E-mail address",
        "new_recovery": "New recovery code",
        "deleted": "deleted",
    },
}


def negotiate(accept_language: str | None) -> str:
    """The first of our locales named in Accept-Language (by q), else Dutch."""
    choices: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        choices.append((q, tag.strip().lower().split("-")[0]))
    for _, lang in sorted(choices, key=lambda c: -c[0]):
        if lang in LOCALES:
            return lang
    return "nl"


#: ``factor.<kind>``: a factor's name, from its spec (:mod:`shared.factor_kinds`).
FACTOR = "factor."


def text(locale: str, key: str, **values: str) -> str:
    if key.startswith(FACTOR) and key[len(FACTOR) :] in factor_kinds.KINDS:
        return factor_kinds.label(key[len(FACTOR) :], locale)
    found = TEXTS.get(locale, TEXTS["nl"]).get(key) or TEXTS["nl"].get(key) or key
    return found.format(**values) if values else found
