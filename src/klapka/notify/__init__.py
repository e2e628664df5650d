"""What klapka tells people outside the API: email (SMTP) now; webhooks and push later."""

from klapka.notify.email import Mailer, MailFailed, MailNotConfigured

__all__ = ["MailFailed", "MailNotConfigured", "Mailer"]
