"""The special folders of a private mailbox (MS-OXOSFLD) and their localized names.

:data:`SPECIAL_FOLDERS` is the tree provisioning creates, in creation order (parents
first). Each entry names its key (stored as the folder's role, unique per mailbox),
its parent, its container class (PidTagContainerClass, MS-OXOSFLD 2.2.5), the
``[mapistore] roles`` entry that picks its backend, and its display name per
language. Folders outside the IPM subtree (views, finder, spooler queue ...) are not
shown to users and keep their English names, as Exchange does; they live on the
``root`` role's backend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from groupware.types import FolderRole


class SpecialFolder(enum.StrEnum):
    """Every special folder; the value is stored as the folder's role."""

    ROOT = "root"
    DEFERRED_ACTION = "deferred_action"
    SPOOLER_QUEUE = "spooler_queue"
    COMMON_VIEWS = "common_views"
    SCHEDULE = "schedule"
    FINDER = "finder"
    VIEWS = "views"
    SHORTCUTS = "shortcuts"
    REMINDERS = "reminders"
    IPM_SUBTREE = "ipm_subtree"
    INBOX = "inbox"
    OUTBOX = "outbox"
    SENT = "sent"
    DELETED = "deleted"
    DRAFTS = "drafts"
    CALENDAR = "calendar"
    CONTACTS = "contacts"
    TASKS = "tasks"
    NOTES = "notes"
    JOURNAL = "journal"
    JUNK = "junk"
    CONVERSATION_HISTORY = "conversation_history"
    SYNC_ISSUES = "sync_issues"
    CONFLICTS = "conflicts"
    LOCAL_FAILURES = "local_failures"
    SERVER_FAILURES = "server_failures"


LANGUAGES = ("en", "de", "fr", "es")

FOLDER_TYPE_GENERIC = 1
FOLDER_TYPE_SEARCH = 2


@dataclass(frozen=True)
class SpecialFolderSpec:
    key: SpecialFolder
    parent: SpecialFolder | None
    container_class: str
    backend_role: FolderRole
    """Which ``[mapistore] roles`` entry chooses the backend."""
    names: dict[str, str] = field(default_factory=dict)
    folder_type: int = FOLDER_TYPE_GENERIC

    def name_for(self, locale: str) -> str:
        return self.names.get(language_of(locale), self.names["en"])


def _n(en: str, de: str | None = None, fr: str | None = None,
       es: str | None = None) -> dict[str, str]:
    return {"en": en, "de": de or en, "fr": fr or en, "es": es or en}


S = SpecialFolder
R = FolderRole

SPECIAL_FOLDERS: tuple[SpecialFolderSpec, ...] = (
    SpecialFolderSpec(S.ROOT, None, "", R.ROOT, _n("")),
    SpecialFolderSpec(S.DEFERRED_ACTION, S.ROOT, "", R.ROOT, _n("Deferred Action")),
    SpecialFolderSpec(S.SPOOLER_QUEUE, S.ROOT, "", R.ROOT, _n("Spooler Queue")),
    SpecialFolderSpec(S.COMMON_VIEWS, S.ROOT, "", R.ROOT, _n("Common Views")),
    SpecialFolderSpec(S.SCHEDULE, S.ROOT, "", R.ROOT, _n("Schedule")),
    SpecialFolderSpec(S.FINDER, S.ROOT, "", R.ROOT, _n("Finder")),
    SpecialFolderSpec(S.VIEWS, S.ROOT, "", R.ROOT, _n("Views")),
    SpecialFolderSpec(S.SHORTCUTS, S.ROOT, "", R.ROOT, _n("Shortcuts")),
    SpecialFolderSpec(S.REMINDERS, S.ROOT, "Outlook.Reminder", R.ROOT,
                      _n("Reminders", "Erinnerungen", "Rappels", "Avisos"),
                      FOLDER_TYPE_SEARCH),
    SpecialFolderSpec(S.IPM_SUBTREE, S.ROOT, "", R.IPM_SUBTREE,
                      _n("Top of Information Store", "Oberste Ebene des Informationsspeichers",
                         "Sommet de la banque d'informations",
                         "Parte superior del almacén de información")),
    SpecialFolderSpec(S.INBOX, S.IPM_SUBTREE, "IPF.Note", R.INBOX,
                      _n("Inbox", "Posteingang", "Boîte de réception", "Bandeja de entrada")),
    SpecialFolderSpec(S.OUTBOX, S.IPM_SUBTREE, "IPF.Note", R.OUTBOX,
                      _n("Outbox", "Postausgang", "Boîte d'envoi", "Bandeja de salida")),
    SpecialFolderSpec(S.SENT, S.IPM_SUBTREE, "IPF.Note", R.SENT,
                      _n("Sent Items", "Gesendete Elemente", "Éléments envoyés",
                         "Elementos enviados")),
    SpecialFolderSpec(S.DELETED, S.IPM_SUBTREE, "IPF.Note", R.DELETED,
                      _n("Deleted Items", "Gelöschte Elemente", "Éléments supprimés",
                         "Elementos eliminados")),
    SpecialFolderSpec(S.DRAFTS, S.IPM_SUBTREE, "IPF.Note", R.DRAFTS,
                      _n("Drafts", "Entwürfe", "Brouillons", "Borradores")),
    SpecialFolderSpec(S.CALENDAR, S.IPM_SUBTREE, "IPF.Appointment", R.CALENDAR,
                      _n("Calendar", "Kalender", "Calendrier", "Calendario")),
    SpecialFolderSpec(S.CONTACTS, S.IPM_SUBTREE, "IPF.Contact", R.CONTACTS,
                      _n("Contacts", "Kontakte", "Contacts", "Contactos")),
    SpecialFolderSpec(S.TASKS, S.IPM_SUBTREE, "IPF.Task", R.TASKS,
                      _n("Tasks", "Aufgaben", "Tâches", "Tareas")),
    SpecialFolderSpec(S.NOTES, S.IPM_SUBTREE, "IPF.StickyNote", R.NOTES,
                      _n("Notes", "Notizen", "Notes", "Notas")),
    SpecialFolderSpec(S.JOURNAL, S.IPM_SUBTREE, "IPF.Journal", R.JOURNAL,
                      _n("Journal", "Journal", "Journal", "Diario")),
    SpecialFolderSpec(S.JUNK, S.IPM_SUBTREE, "IPF.Note", R.JUNK,
                      _n("Junk E-mail", "Junk-E-Mail", "Courrier indésirable",
                         "Correo no deseado")),
    SpecialFolderSpec(S.CONVERSATION_HISTORY, S.IPM_SUBTREE, "IPF.Note", R.FALLBACK,
                      _n("Conversation History", "Unterhaltungsverlauf",
                         "Historique des conversations", "Historial de conversaciones")),
    SpecialFolderSpec(S.SYNC_ISSUES, S.IPM_SUBTREE, "IPF.Note", R.FALLBACK,
                      _n("Sync Issues", "Synchronisierungsprobleme",
                         "Problèmes de synchronisation", "Problemas de sincronización")),
    SpecialFolderSpec(S.CONFLICTS, S.SYNC_ISSUES, "IPF.Note", R.FALLBACK,
                      _n("Conflicts", "Konflikte", "Conflits", "Conflictos")),
    SpecialFolderSpec(S.LOCAL_FAILURES, S.SYNC_ISSUES, "IPF.Note", R.FALLBACK,
                      _n("Local Failures", "Lokale Fehler", "Échecs locaux",
                         "Errores locales")),
    SpecialFolderSpec(S.SERVER_FAILURES, S.SYNC_ISSUES, "IPF.Note", R.FALLBACK,
                      _n("Server Failures", "Serverfehler", "Échecs du serveur",
                         "Errores del servidor")),
)

SPEC_BY_KEY: dict[SpecialFolder, SpecialFolderSpec] = {s.key: s for s in SPECIAL_FOLDERS}

LOGON_FOLDERS: tuple[SpecialFolder, ...] = (
    S.ROOT, S.DEFERRED_ACTION, S.SPOOLER_QUEUE, S.IPM_SUBTREE, S.INBOX, S.OUTBOX, S.SENT,
    S.DELETED, S.COMMON_VIEWS, S.SCHEDULE, S.FINDER, S.VIEWS, S.SHORTCUTS,
)
"""The 13 folder ids RopLogon returns for a private mailbox, in order
(MS-OXCSTOR 2.2.1.1.3)."""

DEFAULT_RECEIVE_FOLDERS: tuple[tuple[str, SpecialFolder], ...] = (
    ("", S.INBOX),
    ("IPM", S.INBOX),
    ("REPORT.IPM", S.INBOX),
    ("IPC", S.ROOT),
)
"""Receive folders of a new mailbox (MS-OXCSTOR 3.1.4.2): mail to the Inbox, IPC
(inter-process) messages to the root."""


def language_of(locale: str) -> str:
    """``de-AT``, ``de_DE.UTF-8``, ``DE`` -> ``de``; unknown languages -> ``en``."""
    lang = locale.replace("_", "-").split("-", 1)[0].split(".", 1)[0].lower()
    return lang if lang in LANGUAGES else "en"
