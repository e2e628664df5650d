"""The languages of the web UI: English (the source strings) and Czech.

Every string the UI shows goes through ``Translator.__call__`` (``t("Extensions")``). The
English text is the key; a language's catalog maps it to the translation, and a string
missing from a catalog is shown in English (``tests/web/test_i18n.py`` finds every string
the UI passes to ``t`` and checks the Czech catalog has it). Placeholders use
``str.format`` names: ``t("{count} extensions", count=3)``.

The language is the visitor's choice, kept in the ``klapka_lang`` cookie (the language
menu sets it); without one, the browser's ``Accept-Language`` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGE_COOKIE = "klapka_lang"
LANGUAGES = {"en": "English", "cs": "Čeština"}
DEFAULT_LANGUAGE = "en"

CZECH: dict[str, str] = {
    # frame and navigation
    "klapka": "klapka",
    "Sign in": "Přihlásit se",
    "Sign out": "Odhlásit se",
    "Email": "E-mail",
    "Password": "Heslo",
    "Language": "Jazyk",
    "Code from your authenticator app or a recovery code": (
        "Kód z ověřovací aplikace nebo záchranný kód"
    ),
    "Confirm": "Potvrdit",
    "Two-factor authentication": "Dvoufázové ověření",
    "Back": "Zpět",
    "Admin console": "Administrace",
    "My portal": "Můj portál",
    "Extensions": "Linky",
    "Groups": "Skupiny",
    "Ring groups": "Skupiny vyzvánění",
    "Queues": "Fronty",
    "Trunks": "Trunky",
    "Inbound routes": "Příchozí trasy",
    "Outbound routes": "Odchozí trasy",
    "Business hours": "Pracovní doba",
    "Contacts": "Kontakty",
    "System": "Systém",
    "Audit log": "Záznam změn",
    "Call simulator": "Simulátor hovorů",
    "Presence": "Přítomnost",
    "Forwarding": "Přesměrování",
    "Voicemail": "Hlasová schránka",
    "Notifications": "Upozornění",
    "Colleagues": "Kolegové",
    "Change password": "Změna hesla",
    "Not available": "Nedostupné",
    "Your session has ended: sign in again.": "Vaše relace skončila: přihlaste se znovu.",
    "You are signed in only to set up two-factor authentication.": (
        "Jste přihlášeni jen pro nastavení dvoufázového ověření."
    ),
    "Scan the QR code with your authenticator app, then enter the code it shows.": (
        "Naskenujte QR kód ověřovací aplikací a zadejte kód, který zobrazí."
    ),
    "Start": "Začít",
    "Keep these recovery codes somewhere safe:": "Uložte si tyto záchranné kódy na bezpečné místo:",
    "Continue": "Pokračovat",
    # lists
    "Search": "Hledat",
    "Number, name or email": "Číslo, jméno nebo e-mail",
    "Group": "Skupina",
    "All": "Všechny",
    "Number": "Číslo",
    "Name": "Jméno",
    "Status": "Stav",
    "Registration": "Registrace",
    "registered": "Registrována",
    "unregistered": "Neregistrována",
    "unknown": "neznámý (SIP jádro neběží)",
    "ringing": "Vyzvání",
    "in_call": "V hovoru",
    "Role": "Role",
    "Enabled": "Zapnuto",
    "Previous": "Předchozí",
    "Next": "Další",
    "{first}–{last} of {total}": "{first}–{last} z {total}",
    "New extension": "Nová linka",
    "Export CSV": "Export CSV",
    "Import CSV": "Import CSV",
    "Send welcome email": "Poslat uvítací e-mail",
    "Add to group": "Přidat do skupiny",
    "{count} selected": "vybráno: {count}",
    "Sent: {sent}": "Odesláno: {sent}",
    "Delete {count} extensions?": "Smazat linky ({count})?",
    "All rows or none: a row that breaks a rule refuses the whole file.": (
        "Všechny řádky, nebo žádný: řádek, který porušuje pravidlo, odmítne celý soubor."
    ),
    "Nothing was imported.": "Nic nebylo importováno.",
    "Row": "Řádek",
    "Column": "Sloupec",
    "Problem": "Problém",
    "{created} created, {updated} updated": "vytvořeno {created}, upraveno {updated}",
    "Close": "Zavřít",
    "App login QR code": "QR kód pro přihlášení aplikace",
    "Works once, until {when}.": "Funguje jednou, do {when}.",
    "Show app login link and QR code": "Zobrazit odkaz a QR kód pro přihlášení aplikace",
    "Signed-in browsers": "Přihlášené prohlížeče",
    "Caller rules and URL popup": "Pravidla volajících a vyskakovací URL",
    "Caller rules": "Pravidla volajících",
    "Call types": "Druhy hovorů",
    "Checked in order; the first rule whose pattern matches the caller decides.": (
        "Kontrolují se popořadě; rozhoduje první pravidlo, jehož vzor odpovídá volajícímu."
    ),
    "inbound": "Příchozí",
    "answered": "Přijat",
    "call_end": "Konec hovoru",
    "all": "Všechny",
    "Two-factor authentication is on.": "Dvoufázové ověření je zapnuto.",
    "Messages": "Zprávy",
    "No messages.": "Žádné zprávy.",
    "new": "Nová",
    "Mark heard": "Označit jako poslechnutou",
    "Mark new": "Označit jako novou",
    "Only an admin may open this page.": "Tuto stránku může otevřít jen administrátor.",
    "Voicemail greeting": "Pozdrav hlasové schránky",
    "All settings (YAML)": "Všechna nastavení (YAML)",
    "Forgot your password?": "Zapomněli jste heslo?",
    "Email me a link": "Poslat odkaz e-mailem",
    "If an account has this email, a link to reset its password is on its way.": (
        "Pokud k tomuto e-mailu existuje účet, odkaz pro nastavení hesla je na cestě."
    ),
    "disabled": "Vypnut",
    "not_monitored": "Nesledován",
    "unreachable": "Nedostupný",
    "reachable": "Dostupný",
    "registration_failed": "Registrace selhala",
    "registering": "Registruje se",
    "auth_failed": "Ověření selhalo",
    "Time-conditional presence": "Přítomnost podle času",
    "Switch my status by business hours": "Přepínat stav podle pracovní doby",
    "In business hours": "V pracovní době",
    "In breaks": "O přestávkách",
    "On holidays": "O svátcích",
    "Outside business hours": "Mimo pracovní dobu",
    "Boss and secretary": "Šéf a sekretářka",
    "Calls go to a secretary first": "Hovory jdou nejdřív sekretářce",
    "Secretary": "Sekretářka",
    "Create": "Vytvořit",
    "Cancel": "Zrušit",
    "Save": "Uložit",
    "Saved": "Uloženo",
    "Delete": "Smazat",
    "Deleted": "Smazáno",
    "Nothing here yet.": "Zatím tu nic není.",
    "Open": "Otevřít",
    "Members": "Členové",
    "Settings (YAML)": "Nastavení (YAML)",
    "New": "Nový",
    # extension editor
    "Extension {number}": "Linka {number}",
    "User": "Uživatel",
    "Features": "Funkce",
    "Advanced": "Pokročilé",
    "Security": "Zabezpečení",
    "Clients": "Klienti",
    "Phones": "Telefony",
    "Function keys": "Funkční klávesy",
    "First name": "Jméno",
    "Last name": "Příjmení",
    "Mobile": "Mobil",
    "Caller ID name": "Jméno volajícího",
    "Caller ID number": "Číslo volajícího",
    "Concurrent registrations": "Souběžné registrace",
    "New portal password": "Nové heslo do portálu",
    "Leave empty to keep the current one.": "Ponechte prázdné pro zachování současného.",
    "not active yet": "zatím nefunguje",
    "Stored, but nothing acts on this setting yet.": (
        "Nastavení se uloží, ale zatím na něj nic nereaguje."
    ),
    "Stored, but nothing acts on these settings yet.": (
        "Nastavení se uloží, ale zatím na ně nic nereaguje."
    ),
    "Where do calls go": "Kam jdou hovory",
    "Unsaved changes": "Neuložené změny",
    "Leave the page? Your changes are not saved.": "Odejít ze stránky? Změny nejsou uložené.",
    "Status to edit": "Upravovaný stav",
    "Internal calls": "Interní hovory",
    "External calls": "Externí hovory",
    "Always": "Vždy",
    "No answer": "Neodpovídá",
    "Busy": "Obsazeno",
    "Ring first": "Vyzvánět nejdříve",
    "Ring second": "Vyzvánět potom",
    "Ring timeout (seconds)": "Doba vyzvánění (sekundy)",
    "Ring mobile simultaneously": "Souběžně vyzvánět mobil",
    "Mobile prefix": "Předvolba mobilu",
    "Push notifications": "Push notifikace",
    "Agent status auto switch": "Automatické přepnutí stavu agenta",
    "In do not disturb nothing rings: only the always rule applies.": (
        "V režimu nerušit nic nevyzvání: platí jen pravidlo Vždy."
    ),
    "Off": "Vypnuto",
    "Value": "Hodnota",
    "PIN": "PIN",
    "PIN authentication": "Ověření PINem",
    "New message email": "E-mail o nové zprávě",
    "Send to address": "Poslat na adresu",
    "After emailing": "Po odeslání e-mailu",
    "Play date and time": "Přehrát datum a čas",
    "Play caller number": "Přehrát číslo volajícího",
    "Play duration": "Přehrát délku",
    "Shortest message (seconds)": "Nejkratší zpráva (sekundy)",
    "Longest message (seconds)": "Nejdelší zpráva (sekundy)",
    "Most messages": "Nejvíce zpráv",
    "Email me when my password changes": "Poslat e-mail při změně hesla",
    "Email me about missed calls": "Poslat e-mail o zmeškaných hovorech",
    "All busy mode": "Režim vše obsazeno",
    "All reject mode": "Režim vše odmítnout",
    "Allow being monitored": "Povolit odposlech",
    "Hot desking": "Sdílený stůl (hot desking)",
    "Door phone": "Dveřní telefon",
    "URL popup": "Vyskakovací URL",
    "URL": "URL",
    "DTMF mode": "Režim DTMF",
    "Transport": "Transport",
    "Qualify": "Kontrola dostupnosti",
    "NAT": "NAT",
    "SRTP": "SRTP",
    "Codecs": "Kodeky",
    "Allowed registration IPs (comma separated)": "Povolené IP pro registraci (oddělené čárkou)",
    "User agent prefix": "Prefix user agenta",
    "Outbound calls": "Odchozí hovory",
    "Outbound calls outside business hours": "Odchozí hovory mimo pracovní dobu",
    "International calls": "Mezinárodní hovory",
    "Maximum call duration (seconds, 0 = no limit)": "Nejdelší hovor (sekundy, 0 = bez omezení)",
    "Require two-factor authentication": "Vyžadovat dvoufázové ověření",
    "Mobile app": "Mobilní aplikace",
    "Desktop app": "Desktopová aplikace",
    "Web client": "Webový klient",
    # the Phones tab
    "No phones yet.": "Zatím žádné telefony.",
    "Vendor": "Výrobce",
    "Model": "Model",
    "MAC address": "MAC adresa",
    "12 hexadecimal digits, e.g. 80:5E:C0:12:34:01": (
        "12 šestnáctkových číslic, např. 80:5E:C0:12:34:01"
    ),
    "Template": "Šablona",
    "The vendor's own": "Výchozí šablona výrobce",
    "Remove phone": "Odebrat telefon",
    "Add phone": "Přidat telefon",
    "Not saved yet.": "Zatím neuloženo.",
    "Never fetched its file yet.": "Telefon si konfiguraci zatím nikdy nestáhl.",
    "Last fetch: {when} from {address}": "Naposledy staženo: {when} z adresy {address}",
    "Re-provision": "Znovu načíst konfiguraci",
    "Sent to {count} registered desk phones.": "Odesláno {count} registrovaným stolním telefonům.",
    "A hot-desk phone's guest extension needs exactly one phone: logging in at it is refused "
    "until then.": (
        "Hostovská linka sdíleného telefonu (hot desk) potřebuje právě jeden telefon: do té doby "
        "se na něm nelze přihlásit."
    ),
    "Nobody is logged in at this hot desk.": "Na tomto sdíleném telefonu není nikdo přihlášen.",
    "Logged in: {user} since {since}": "Přihlášen(a): {user} od {since}",
    "Logged in: {user} since {since}, until {until}": "Přihlášen(a): {user} od {since}, do {until}",
    "Logged in at hot desk {desk} since {since}": "Přihlášen(a) na sdíleném telefonu {desk} od {since}",
    "Logged in at hot desk {desk} since {since}, until {until}": (
        "Přihlášen(a) na sdíleném telefonu {desk} od {since}, do {until}"
    ),
    "Log out": "Odhlásit",
    "Logged out {user}.": "{user} odhlášen(a).",
    "Fix the marked fields.": "Opravte označená pole.",
    "Only an admin may open another user's settings.": (
        "Nastavení jiného uživatele může otevřít jen administrátor."
    ),
    "does not exist": "neexistuje",
    # call paths and simulator
    "From": "Od",
    "To": "Komu",
    "Time": "Čas",
    "Who answers": "Kdo přijme",
    "Who rejects": "Kdo odmítne",
    "Simulate": "Simulovat",
    "Ring steps": "Kroky vyzvánění",
    "Why": "Proč",
    "Outcome": "Výsledek",
    "step {n}: ring {who} for {seconds} s": "krok {n}: vyzvánět {who} po {seconds} s",
    "Extension, or an outside number": "Linka nebo vnější číslo",
    "Comma separated, e.g. 102, 103:mobile_app": "Oddělené čárkou, např. 102, 103:mobile_app",
    "Empty: now": "Prázdné: teď",
    "internal": "interní",
    "external": "externí",
    "Rule": "Pravidlo",
    "Calls": "Hovory",
    # presence statuses, destinations and other values
    "available": "K dispozici",
    "away": "Pryč",
    "business_trip": "Služební cesta",
    "do_not_disturb": "Nerušit",
    "lunch_break": "Oběd",
    "off_work": "Mimo práci",
    "extension": "Linka",
    "voicemail": "Hlasová schránka",
    "mobile_number": "Mobil",
    "external_number": "Vnější číslo",
    "ring_group": "Skupina vyzvánění",
    "queue": "Fronta",
    "play_greeting_then_hangup": "Přehrát pozdrav a zavěsit",
    "hangup": "Zavěsit",
    "desk": "Stolní telefon",
    "mobile_app": "Mobilní aplikace",
    "desktop_app": "Desktopová aplikace",
    "web": "Web",
    "no_action": "Nic",
    "login": "Přihlásit",
    "logout": "Odhlásit",
    "pause": "Pozastavit",
    "with_attachment": "S přílohou",
    "without_attachment": "Bez přílohy",
    "off": "Vypnuto",
    "mark_read": "Označit jako přečtené",
    "delete": "Smazat",
    "nothing": "Nic",
    "admin": "administrátor",
    "user": "uživatel",
    # portal
    "My status": "Můj stav",
    "Note": "Poznámka",
    "Set status": "Nastavit stav",
    "Status set": "Stav nastaven",
    "Current password": "Současné heslo",
    "New password": "Nové heslo",
    "Password changed": "Heslo změněno",
    "Company contacts": "Firemní kontakty",
    "Personal contacts": "Osobní kontakty",
    "Company": "Firma",
    "Phone numbers": "Telefonní čísla",
    "Add": "Přidat",
    "You may not change this; ask your administrator.": (
        "Toto nemůžete změnit; požádejte administrátora."
    ),
    # system
    "SMTP server": "SMTP server",
    "Host": "Server",
    "Port": "Port",
    "Username": "Uživatelské jméno",
    "From address": "Adresa odesílatele",
    "Security mode": "Zabezpečení spojení",
    "Send test email": "Poslat zkušební e-mail",
    "Test email sent": "Zkušební e-mail odeslán",
    "Send to": "Komu poslat",
    "Time zone": "Časové pásmo",
    "Portal URL": "Adresa portálu",
    "When": "Kdy",
    "Who": "Kdo",
    "Action": "Akce",
    "Object": "Objekt",
    "Changes": "Změny",
    "Key": "Klíč",
    "Phonebook": "Telefonní seznam",
    "New phonebook": "Nový telefonní seznam",
    "Position": "Pozice",
    "Label": "Popisek",
    "blf": "BLF (stav linky)",
    "speed_dial": "Rychlá volba",
    "dnd": "Nerušit",
    "forward": "Přesměrování",
    "presence": "Přítomnost",
    "park": "Parkování",
    "boss_secretary": "Šéf–sekretářka",
    "line": "Linka",
    "Holidays": "Svátky",
    "Monday": "Pondělí",
    "Tuesday": "Úterý",
    "Wednesday": "Středa",
    "Thursday": "Čtvrtek",
    "Friday": "Pátek",
    "Saturday": "Sobota",
    "Sunday": "Neděle",
    "Break": "Přestávka",
    "Closed": "Zavřeno",
    "Edit": "Upravit",
    "Client permissions": "Oprávnění klientů",
    "Move up": "Posunout nahoru",
    "Move down": "Posunout dolů",
    "Drag a rule to move it, or use the arrows.": "Pravidlo přesuňte přetažením nebo šipkami.",
    "What can this user see?": "Co tento uživatel vidí?",
    "Menus": "Nabídky",
    "Menu": "Nabídka",
    "May change": "Smí měnit",
    "Sees {count} extensions": "Vidí {count} linek",
    "hidden": "skryté",
    "Show": "Zobrazit",
    "Extension": "Linka",
    "Type": "Typ",
    "DID": "DID",
    "Destination": "Cíl",
    "Dial patterns": "Vzory čísel",
    "Agents": "Agenti",
    "Logged in": "Přihlášen",
    "Paused": "Pozastaven",
    "Weekly hours": "Týdenní hodiny",
    # the app login page (the link of the welcome email)
    "Set up your phone app": "Nastavení telefonní aplikace",
    "This link signs a phone app in to your extension: Linphone (free for Android, iPhone, "
    "Windows, macOS and Linux) or another SIP app. It works once.": (
        "Tento odkaz přihlásí telefonní aplikaci k vaší lince: Linphone (zdarma pro Android, "
        "iPhone, Windows, macOS a Linux) nebo jinou SIP aplikaci. Funguje jen jednou."
    ),
    "On the phone or computer that has Linphone:": "V telefonu nebo počítači s Linphone:",
    "Open in Linphone": "Otevřít v Linphone",
    "Or, in Linphone: Assistant, Fetch remote configuration; scan this QR code or paste the "
    "address below.": (
        "Nebo v Linphone: Průvodce, Načíst vzdálenou konfiguraci; naskenujte tento QR kód "
        "nebo vložte adresu níže."
    ),
    "QR code for Linphone": "QR kód pro Linphone",
    "Another SIP app": "Jiná SIP aplikace",
    "Show the account details to type into it. They are shown once: the link then stops "
    "working, also for Linphone.": (
        "Zobrazte si údaje účtu a zadejte je do ní. Zobrazí se jen jednou: odkaz pak přestane "
        "fungovat, i pro Linphone."
    ),
    "Show my account details": "Zobrazit údaje mého účtu",
    "Server": "Server",
    "Domain": "Doména",
    "Keep the password to yourself; this page will not show it again.": (
        "Heslo nikomu nesdělujte; tato stránka ho znovu nezobrazí."
    ),
    "This link is unknown, already used or expired: ask your administrator for a new one.": (
        "Tento odkaz je neznámý, už použitý nebo jeho platnost vypršela: požádejte správce o nový."
    ),
    # calls: history, calls now, call log
    "Call history": "Historie hovorů",
    "Calls now": "Probíhající hovory",
    "Call log": "Výpis hovorů",
    "Answered": "Přijato",
    "Rejected": "Odmítnuto",
    "Failed": "Nezdařilo se",
    "Interrupted": "Přerušeno",
    "Internal": "Interní",
    "Inbound": "Příchozí",
    "Outbound": "Odchozí",
    "Times in {zone}": "Časy v pásmu {zone}",
    "Direction": "Směr",
    "Answered by": "Přijal",
    "Ringing": "Vyzvání",
    "Talking": "Hovor",
    "State": "Stav",
    "With": "S kým",
    "For": "Trvá",
    "In progress": "Probíhá",
    "No calls right now.": "Právě neprobíhá žádný hovor.",
    "End": "Ukončit",
    "The call was ended": "Hovor byl ukončen",
    "Missed": "Zmeškané",
    "Call: {url}": "Hovor: {url}",
}

# Values of closed sets (statuses, destination types...) are keys too: shown in words.
ENGLISH: dict[str, str] = {
    "unknown": "unknown (SIP core not running)",
    "inbound": "Inbound",
    "internal": "Internal",
    "external": "External",
    "answered": "Answered",
    "call_end": "Call end",
    "blf": "BLF",
    "speed_dial": "Speed dial",
    "dnd": "Do not disturb",
    "forward": "Forward",
    "presence": "Presence",
    "park": "Park",
    "boss_secretary": "Boss–secretary",
    "line": "Line",
    "not_monitored": "Not monitored",
    "registration_failed": "Registration failed",
    "auth_failed": "Authentication failed",
    "all": "All",
    "ringing": "Ringing",
    "in_call": "In a call",
    "available": "Available",
    "away": "Away",
    "business_trip": "Business trip",
    "do_not_disturb": "Do not disturb",
    "lunch_break": "Lunch break",
    "off_work": "Off work",
    "extension": "Extension",
    "voicemail": "Voicemail",
    "mobile_number": "Mobile number",
    "external_number": "External number",
    "ring_group": "Ring group",
    "queue": "Queue",
    "play_greeting_then_hangup": "Play greeting, then hang up",
    "hangup": "Hang up",
    "desk": "Desk phone",
    "mobile_app": "Mobile app",
    "desktop_app": "Desktop app",
    "web": "Web",
    "no_action": "No action",
    "login": "Log in",
    "logout": "Log out",
    "pause": "Pause",
    "with_attachment": "With attachment",
    "without_attachment": "Without attachment",
    "off": "Off",
    "mark_read": "Mark read",
    "delete": "Delete",
    "nothing": "Nothing",
}

CATALOGS: dict[str, dict[str, str]] = {"en": ENGLISH, "cs": CZECH}


@dataclass(frozen=True)
class Translator:
    """Turns the UI's English strings into one language."""

    language: str = DEFAULT_LANGUAGE

    def __call__(self, text: str, **values: object) -> str:
        translated = CATALOGS.get(self.language, {}).get(text, text)
        return translated.format(**values) if values else translated


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The visitor's language: their choice (cookie), else the browser's first known one."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
