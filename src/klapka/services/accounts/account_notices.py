"""Emails to a user about their own account: the password reset link, "your password was
changed". Sent through ``klapka.notify.email``; when email is not set up (or not part of
this klapka) the notice is skipped with a log line, and the account change stands.

Nothing secret is ever logged: not the link, not the token, not the message body.
"""

from __future__ import annotations

import logging

from klapka.notify.email import Mailer, MailNotConfigured
from klapka.services.pbx import Pbx

log = logging.getLogger(__name__)


def send_notice(pbx: Pbx, to: str, subject: str, text: str) -> bool:
    """Send one plain-text notice; False (and a log line) when it could not be sent."""
    try:
        Mailer(pbx).send(to, subject, text)
    except MailNotConfigured:
        log.warning("email is not set up (system.smtp): %r not sent", subject)
        return False
    except Exception as e:  # MailFailed, or anything the SMTP library raises
        log.warning("%r not sent: %s", subject, type(e).__name__)
        return False
    return True


def password_reset_text(name: str, link: str, minutes: int) -> str:
    return (
        f"Hello {name},\n\n"
        "someone (hopefully you) asked to reset the password of your klapka account.\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n"
        f"{link}\n\n"
        "The link works once. If you did not ask for it, ignore this email: your password "
        "stays as it is.\n"
    )


def password_changed_text(name: str, portal_url: str) -> str:
    return (
        f"Hello {name},\n\n"
        "the password of your klapka account was just changed.\n\n"
        "If that was not you, reset your password now at "
        f"{portal_url.rstrip('/')}/ and tell your administrator.\n"
    )
