"""The console's Dutch and English texts, added to the front end's (``services.web.i18n``)
when the console's routes are loaded; a key the front end already has keeps its text."""

from __future__ import annotations

from services.web import i18n

CONSOLE_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "console": "Beheer",
        "console.forbidden": (
            "Deze pagina is alleen voor de beheerder van de praktijk (rechtengroep 1)."
        ),
        "console.settings": "Praktijkinstellingen",
        "console.employees": "Medewerkers",
        "console.certificates": "Certificaten",
        "console.audit": "Logboek",
        "console.saved": "Opgeslagen.",
        "console.switched": (
            "Opgeslagen: tweestapsverificatie is nu verplicht. Uw sessie met alleen een "
            "wachtwoord is daarom beëindigd; log opnieuw in en stel de tweede stap in."
        ),
        "console.save": "Opslaan",
        "console.cancel": "Annuleren",
        "console.errors_below": "Niet uitgevoerd; zie ook de meldingen bij de velden:",
        "console.practice_name": "Naam van de praktijk",
        "console.practice_email": "E-mailadres van de praktijk",
        "console.practice_email_hint": "Activeringscodes worden vanaf dit adres verstuurd.",
        "console.ura": "URA van de praktijk (8 cijfers)",
        "console.ura_hint": (
            "Het abonneenummer van de praktijk in het UZI-register. Wie met Dézi of een UZI-pas "
            "inlogt, moet namens deze URA handelen. Leeg laten verwijdert het."
        ),
        "console.policy": "Wachtwoordbeleid",
        "console.min_strength": "Minimale wachtwoordsterkte (0 tot 100)",
        "console.min_strength_hint": "Voor tweestapsverificatie is minstens 60 nodig.",
        "console.change_after_days": "Wachtwoord vervangen na (dagen, 0 = nooit)",
        "console.warn_before_days": "Waarschuwen vooraf (dagen)",
        "console.disable_after_days": "Account uitschakelen na ongebruikt (dagen, 0 = nooit)",
        "console.max_attempts": "Maximaal aantal mislukte pogingen",
        "console.lockout_minutes": "Blokkeertijd (minuten)",
        "console.history": "Aantal vorige wachtwoorden dat niet opnieuw mag",
        "console.preview": "Sterkte proberen",
        "console.try_password": "Probeer een wachtwoord",
        "console.try_password_hint": (
            "Wordt niet opgeslagen; gescoord zoals bij inloggen, met de naam van de praktijk."
        ),
        "console.strength_result": "Sterkte {score} van 100 — minimum {minimum}: {verdict}.",
        "console.strength_ok": "voldoende",
        "console.strength_weak": "te zwak",
        "console.two_factor": "Tweestapsverificatie",
        "console.assurance": "Betrouwbaarheidsniveau bij inloggen",
        "console.assurance_hint": (
            "Het laagste eIDAS-niveau waarmee iemand mag inloggen: laag is een wachtwoord, "
            "substantieel een wachtwoord met een tweede stap, hoog Dezi, een UZI-pas of een "
            "PKIoverheid-certificaat. Per rechtengroep geldt het hoogste van beide."
        ),
        "console.assurance_minimum": "Voor iedereen",
        "console.assurance_group": "Rechtengroep {group}",
        "console.level.low": "Laag",
        "console.level.substantial": "Substantieel",
        "console.level.high": "Hoog",
        "console.error.level": "Kies laag, substantieel of hoog.",
        "console.error.ura": "Een URA is 8 cijfers, bijvoorbeeld 87654321.",
        "console.error.dezi_number": "Een Dezi/UZI-nummer bestaat uit cijfers (meestal 9).",
        "console.two_factor_required": "Tweestapsverificatie verplicht voor alle medewerkers",
        "console.readiness": "Gereedheid",
        "console.readiness_summary": (
            "{ready} van {employees} medewerkers gereed; {incomplete} met ontbrekende "
            "gegevens; {to_enrol} moeten nog instellen."
        ),
        "console.incomplete_title": "Deze medewerkers missen gegevens",
        "console.incomplete_why": (
            "Zij kunnen niet meer inloggen tot hun gegevens compleet zijn. Vul ze eerst aan, "
            "of ga toch door."
        ),
        "console.continue_anyway": "Toch doorgaan",
        "console.continue_anyway_count": (
            "Toch inschakelen: {count} medewerker(s) kunnen dan niet inloggen"
        ),
        "console.incomplete_myself": (
            "U staat zelf in deze lijst. Schakelt u nu toch in, dan kunt u zelf niet meer "
            "inloggen tot uw eigen gegevens compleet zijn. Vul eerst uw gegevens aan."
        ),
        "console.two_factor_now_on": "Nu ingeschakeld.",
        "console.two_factor_now_off": "Nu uitgeschakeld.",
        "console.missing": "Ontbreekt",
        "console.missing.birth_date": "geboortedatum",
        "console.missing.email": "e-mailadres",
        "console.missing.bsn": "BSN",
        "console.missing.strong_factor": "authenticator-app",
        "console.complete": "compleet",
        "console.employee": "Medewerker",
        "console.edit": "Wijzigen",
        "console.edit_employee": "Medewerker wijzigen",
        "console.username": "Gebruikersnaam",
        "console.name": "Naam",
        "console.birth_date": "Geboortedatum",
        "console.email": "E-mailadres",
        "console.bsn": "BSN",
        "console.bsn_hint_set": "Er is een BSN vastgelegd; leeg laten houdt het.",
        "console.bsn_hint_unset": "Nog geen BSN vastgelegd.",
        "console.phone": "Telefoonnummer",
        "console.rights_group": "Rechtengroep",
        "console.object.employee": "medewerker",
        "console.object.certificate": "certificaat",
        "console.object.practice": "praktijk",
        "console.rights_group_hint": (
            "1: beheer (systeembeheerder of praktijkhouder), stelt de praktijk in en beheert "
            "medewerkers. 2 tot en met 9: medewerkers, zonder beheer."
        ),
        "console.group.admin": "{n} · beheer",
        "console.group.staff": "{n} · medewerker",
        "console.in_service": "In dienst",
        "console.dezi_number": "Dezi/UZI-nummer",
        "console.dezi_number_hint": (
            "Hiermee logt deze medewerker in met Dézi of een UZI-pas. Leeg laten verwijdert het."
        ),
        "console.out_of_service": "uit dienst",
        "console.yes": "ja",
        "console.no": "nee",
        "console.deactivate": "Tweede stap deactiveren",
        "console.deactivate_title": "Tweede stap deactiveren voor {name}?",
        "console.deactivate_why": (
            "Alle tweede stappen van deze medewerker (app, sms, e-mail, passkeys, herstelcode) "
            "worden uitgeschakeld en lopende sessies beëindigd. Bij de volgende inlog stelt de "
            "medewerker de tweestapsverificatie opnieuw in."
        ),
        "console.deactivate_confirm": "Ja, deactiveren",
        "console.deactivated": "De tweede stap van {name} is gedeactiveerd.",
        "console.import": "Certificaat importeren (PKCS#12)",
        "console.pkcs12": "PKCS#12-bestand (.p12 of .pfx)",
        "console.pkcs12_password": "Wachtwoord van het bestand",
        "console.import_button": "Importeren",
        "console.no_certificates": "Nog geen certificaten.",
        "console.subject": "Onderwerp",
        "console.issuer": "Uitgever",
        "console.serial": "Serienummer",
        "console.valid": "Geldig",
        "console.valid_until": "Geldig tot",
        "console.valid_from": "Geldig vanaf",
        "console.holder": "Houder",
        "console.cert_type": "Soort",
        "console.type.personal": "Persoonlijk",
        "console.type.public": "Openbaar",
        "console.agb_code": "AGB-code (8 cijfers)",
        "console.services": "Online diensten (één per regel)",
        "console.grants": "Mag gebruiken",
        "console.no_grants": "Nog niemand.",
        "console.grant": "Toestaan",
        "console.revoke": "Intrekken",
        "console.remove": "Certificaat verwijderen",
        "console.remove_title": "Certificaat {subject} verwijderen?",
        "console.remove_confirm": "Ja, verwijderen",
        "console.removed": "Het certificaat is verwijderd.",
        "console.fingerprint": "Vingerafdruk (SHA-256)",
        "console.key": "Sleutel",
        "console.details": "Details",
        "console.filters": "Filters",
        "console.from": "Vanaf (UTC)",
        "console.to": "Tot (UTC)",
        "console.any": "alle",
        "console.filter": "Filteren",
        "console.time": "Tijd",
        "console.action": "Handeling",
        "console.outcome": "Uitkomst",
        "console.outcome.success": "gelukt",
        "console.outcome.failure": "mislukt",
        "console.actor": "Door",
        "console.object": "Betreft",
        "console.source": "Bron",
        "console.next_page": "Volgende pagina",
        "console.first_page": "Eerste pagina",
        "console.export": "Exporteren (JSON lines)",
        "console.export_csv": "Exporteren voor een spreadsheet (CSV)",
        "console.address": "Adres",
        "console.no_events": "Geen gebeurtenissen.",
        "console.error.required": "Vul dit veld in.",
        "console.error.number": "Vul een geheel getal in.",
        "console.error.date": "Vul een datum in (jjjj-mm-dd).",
        "console.error.time": "Vul een tijdstip in.",
        "console.error.choice": "Kies een van de mogelijkheden.",
        "console.error.file": "Kies een bestand.",
        "console.error.invalid": "Deze waarde wordt niet geaccepteerd.",
        "console.problem.two-factor-min_strength": (
            "Voor tweestapsverificatie moet de minimale sterkte minstens 60 zijn."
        ),
        "console.problem.two-factor-email": (
            "Voor tweestapsverificatie is het e-mailadres van de praktijk nodig."
        ),
        "console.problem.two-factor-not-allowed": (
            "Tweestapsverificatie kan nog niet verplicht worden."
        ),
        "console.problem.employees-incomplete": (
            "Niet ingeschakeld: medewerkers missen gegevens (zie de lijst)."
        ),
        "console.problem.username-taken": "Een andere medewerker heeft deze gebruikersnaam.",
        "console.problem.dezi-number-taken": (
            "Een andere medewerker van deze praktijk heeft dit Dezi/UZI-nummer al."
        ),
        "console.problem.wrong-password": "Het wachtwoord van het bestand klopt niet.",
        "console.problem.unreadable-certificate": "Dit bestand is geen leesbaar certificaat.",
        "console.problem.key-mismatch": "De sleutel hoort niet bij het certificaat.",
        "console.problem.certificate-expired": "Dit certificaat is verlopen.",
        "console.problem.certificate-not-yet-valid": "Dit certificaat is nog niet geldig.",
        "console.problem.duplicate-certificate": "Dit certificaat is al geïmporteerd.",
        "console.problem.unknown-employee": "Onbekende medewerker.",
        "console.problem.not-found": "Niet gevonden.",
        "console.problem.unknown": "Het verzoek is geweigerd.",
    },
    "en": {
        "console": "Administration",
        "console.forbidden": "This page is for the practice's administrator (rights group 1).",
        "console.settings": "Practice settings",
        "console.employees": "Employees",
        "console.certificates": "Certificates",
        "console.audit": "Audit trail",
        "console.saved": "Saved.",
        "console.switched": (
            "Saved: two-step verification is now required. Your password-only session has "
            "therefore ended; log in again and set up the second step."
        ),
        "console.save": "Save",
        "console.cancel": "Cancel",
        "console.errors_below": "Not done; see also the messages at the fields:",
        "console.practice_name": "Practice name",
        "console.practice_email": "Practice e-mail address",
        "console.practice_email_hint": "Activation codes are sent from this address.",
        "console.ura": "Practice's URA (8 digits)",
        "console.ura_hint": (
            "The practice's subscriber number in the UZI register. Whoever logs in with Dézi or "
            "a UZI card must act for this URA. Leave empty to remove it."
        ),
        "console.policy": "Password policy",
        "console.min_strength": "Minimum password strength (0 to 100)",
        "console.min_strength_hint": "Two-step verification needs at least 60.",
        "console.change_after_days": "Replace password after (days, 0 = never)",
        "console.warn_before_days": "Warn before (days)",
        "console.disable_after_days": "Disable unused account after (days, 0 = never)",
        "console.max_attempts": "Maximum failed attempts",
        "console.lockout_minutes": "Lockout time (minutes)",
        "console.history": "Earlier passwords that may not be reused",
        "console.preview": "Try strength",
        "console.try_password": "Try a password",
        "console.try_password_hint": ("Not saved; scored as at login, with the practice's name."),
        "console.strength_result": "Strength {score} of 100 — minimum {minimum}: {verdict}.",
        "console.strength_ok": "strong enough",
        "console.strength_weak": "too weak",
        "console.two_factor": "Two-step verification",
        "console.two_factor_required": "Require two-step verification for every employee",
        "console.assurance": "Assurance level of a login",
        "console.assurance_hint": (
            "The lowest eIDAS level someone may log in with: low is a password, substantial a "
            "password with a second step, high Dezi, a UZI pass or a PKIoverheid certificate. "
            "For a rights group the higher of both applies."
        ),
        "console.assurance_minimum": "Everyone",
        "console.assurance_group": "Rights group {group}",
        "console.level.low": "Low",
        "console.level.substantial": "Substantial",
        "console.level.high": "High",
        "console.error.level": "Choose low, substantial or high.",
        "console.error.ura": "A URA is 8 digits, for example 87654321.",
        "console.error.dezi_number": "A Dezi/UZI number is digits (usually 9).",
        "console.readiness": "Readiness",
        "console.readiness_summary": (
            "{ready} of {employees} employees ready; {incomplete} with missing data; "
            "{to_enrol} still to set up."
        ),
        "console.incomplete_title": "These employees lack data",
        "console.incomplete_why": (
            "They cannot log in until their data is complete. Complete it first, or continue "
            "anyway."
        ),
        "console.continue_anyway": "Continue anyway",
        "console.continue_anyway_count": "Switch it on anyway: {count} employee(s) cannot log in",
        "console.incomplete_myself": (
            "You are in this list yourself. If you switch it on anyway, you cannot log in "
            "yourself until your own data is complete. Complete your data first."
        ),
        "console.two_factor_now_on": "On now.",
        "console.two_factor_now_off": "Off now.",
        "console.missing": "Missing",
        "console.missing.birth_date": "birth date",
        "console.missing.email": "e-mail address",
        "console.missing.bsn": "BSN",
        "console.missing.strong_factor": "authenticator app",
        "console.complete": "complete",
        "console.employee": "Employee",
        "console.edit": "Edit",
        "console.edit_employee": "Edit employee",
        "console.username": "Username",
        "console.name": "Name",
        "console.birth_date": "Birth date",
        "console.email": "E-mail address",
        "console.bsn": "BSN",
        "console.bsn_hint_set": "A BSN is on record; leave empty to keep it.",
        "console.bsn_hint_unset": "No BSN on record yet.",
        "console.phone": "Phone number",
        "console.rights_group": "Rights group",
        "console.object.employee": "employee",
        "console.object.certificate": "certificate",
        "console.object.practice": "practice",
        "console.rights_group_hint": (
            "1: administration (system administrator or practice owner), sets up the practice "
            "and manages employees. 2 to 9: employees, without administration."
        ),
        "console.group.admin": "{n} · administration",
        "console.group.staff": "{n} · employee",
        "console.in_service": "In service",
        "console.dezi_number": "Dezi/UZI number",
        "console.dezi_number_hint": (
            "This employee logs in with Dézi or a UZI card by it. Leave empty to remove it."
        ),
        "console.out_of_service": "out of service",
        "console.yes": "yes",
        "console.no": "no",
        "console.deactivate": "Deactivate second step",
        "console.deactivate_title": "Deactivate the second step of {name}?",
        "console.deactivate_why": (
            "All of this employee's second steps (app, text message, e-mail, passkeys, "
            "recovery code) are switched off and running sessions end. At the next login the "
            "employee sets up two-step verification again."
        ),
        "console.deactivate_confirm": "Yes, deactivate",
        "console.deactivated": "The second step of {name} is deactivated.",
        "console.import": "Import a certificate (PKCS#12)",
        "console.pkcs12": "PKCS#12 file (.p12 or .pfx)",
        "console.pkcs12_password": "The file's password",
        "console.import_button": "Import",
        "console.no_certificates": "No certificates yet.",
        "console.subject": "Subject",
        "console.issuer": "Issuer",
        "console.serial": "Serial number",
        "console.valid": "Valid",
        "console.valid_until": "Valid until",
        "console.valid_from": "Valid from",
        "console.holder": "Holder",
        "console.cert_type": "Type",
        "console.type.personal": "Personal",
        "console.type.public": "Public",
        "console.agb_code": "AGB code (8 digits)",
        "console.services": "Online services (one per line)",
        "console.grants": "May use it",
        "console.no_grants": "Nobody yet.",
        "console.grant": "Grant",
        "console.revoke": "Withdraw",
        "console.remove": "Remove certificate",
        "console.remove_title": "Remove certificate {subject}?",
        "console.remove_confirm": "Yes, remove",
        "console.removed": "The certificate is removed.",
        "console.fingerprint": "Fingerprint (SHA-256)",
        "console.key": "Key",
        "console.details": "Details",
        "console.filters": "Filters",
        "console.from": "From (UTC)",
        "console.to": "To (UTC)",
        "console.any": "any",
        "console.filter": "Filter",
        "console.time": "Time (Amsterdam)",
        "console.action": "Action",
        "console.outcome": "Outcome",
        "console.outcome.success": "success",
        "console.outcome.failure": "failure",
        "console.actor": "Actor",
        "console.object": "Object",
        "console.source": "Source",
        "console.next_page": "Next page",
        "console.first_page": "First page",
        "console.export": "Export (JSON lines)",
        "console.export_csv": "Export for a spreadsheet (CSV)",
        "console.address": "Address",
        "console.no_events": "No events.",
        "console.error.required": "Fill in this field.",
        "console.error.number": "Enter a whole number.",
        "console.error.date": "Enter a date (yyyy-mm-dd).",
        "console.error.time": "Enter a date and time.",
        "console.error.choice": "Choose one of the options.",
        "console.error.file": "Choose a file.",
        "console.error.invalid": "This value is not accepted.",
        "console.problem.two-factor-min_strength": (
            "Two-step verification needs a minimum strength of at least 60."
        ),
        "console.problem.two-factor-email": (
            "Two-step verification needs the practice's e-mail address."
        ),
        "console.problem.two-factor-not-allowed": "Two-step verification cannot be required yet.",
        "console.problem.employees-incomplete": (
            "Not switched on: employees lack data (see the list)."
        ),
        "console.problem.username-taken": "Another employee has this username.",
        "console.problem.dezi-number-taken": (
            "Another employee of this practice already has this Dezi/UZI number."
        ),
        "console.problem.wrong-password": "The file's password is wrong.",
        "console.problem.unreadable-certificate": "This file is not a readable certificate.",
        "console.problem.key-mismatch": "The key does not belong to the certificate.",
        "console.problem.certificate-expired": "This certificate has expired.",
        "console.problem.certificate-not-yet-valid": "This certificate is not valid yet.",
        "console.problem.duplicate-certificate": "This certificate was imported already.",
        "console.problem.unknown-employee": "Unknown employee.",
        "console.problem.not-found": "Not found.",
        "console.problem.unknown": "The request was refused.",
    },
}


def register() -> None:
    """Add the console's texts to the front end's (idempotent)."""
    for locale, texts in CONSOLE_TEXTS.items():
        for key, value in texts.items():
            i18n.TEXTS[locale].setdefault(key, value)


def t(locale: str, key: str, **values: str) -> str:
    register()
    return i18n.text(locale, key, **values)


def summary(locale: str, errors: dict[str, str]) -> str | None:
    """The error summary above a form: "not saved" and each field's message, or None."""
    if not errors:
        return None
    messages = dict.fromkeys(t(locale, key) for key in errors.values())
    return " ".join([t(locale, "console.errors_below"), *messages])
