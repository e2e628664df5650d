"""System settings and business hours: singletons, read, replaced or merge-patched."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from klapka.domain.directory import BusinessHours, System
from klapka.domain.problems import Conflict, InvalidInput, problems_from_validation
from klapka.notify.email import Mailer
from klapka.services import audit
from klapka.services.directory.objects import SECRET_MASK, merge_patch
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t


def _system_view(system: System, secrets: dict[str, Any], include_secrets: bool) -> dict[str, Any]:
    data = system.model_dump(mode="json")
    password = secrets.get("smtp.password")
    data["smtp"]["password"] = (password if include_secrets else SECRET_MASK) if password else None
    return data


class SystemSettings:
    """For admins (and the system) only: every method checks the principal."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal  # who the changes are made for, in the audit log

    @admin_only
    def get(self, include_secrets: bool = False) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            system, secrets, _hours, _v = repo.system()
        return _system_view(system, secrets, include_secrets)

    @admin_only
    def replace(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("", "must be a JSON object")
        with self.pbx.tx() as repo:
            old, secrets, hours, _v = repo.system()
            before = _system_view(old, secrets, include_secrets=True)
            smtp = data.get("smtp")
            password = smtp.get("password") if isinstance(smtp, dict) else None
            try:
                system = System.model_validate(data)
            except ValidationError as e:
                raise InvalidInput(problems_from_validation(e)) from None
            if password not in (None, SECRET_MASK):
                secrets = {**secrets, "smtp.password": password}
            elif isinstance(smtp, dict) and "password" in smtp and smtp["password"] is None:
                secrets = {k: v for k, v in secrets.items() if k != "smtp.password"}
            for i, n in enumerate(system.emergency_numbers):
                for table, what in (
                    (t.extensions, "an extension"),
                    (t.ring_groups, "a ring group"),
                    (t.queues, "a queue"),
                ):
                    if repo.conn.execute(select(table.c.id).where(table.c.number == n)).first():
                        raise Conflict(
                            f"{n} is already used by {what}", path=f"emergency_numbers[{i}]"
                        )
            repo.save_system(system, secrets, hours)
            repo.bump_version()
            after = _system_view(system, secrets, include_secrets=True)
            audit.record(repo.conn, self.principal, "update", "system", "", before, after)
        return self.get()

    @admin_only
    def patch(self, patch: Any) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("", "a merge patch must be a JSON object")
        current = self.get(include_secrets=False)
        return self.replace(merge_patch(current, patch))

    @admin_only
    def get_business_hours(self) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            return repo.system()[2].model_dump(mode="json")

    @admin_only
    def replace_business_hours(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("", "must be a JSON object")
        try:
            hours = BusinessHours.model_validate(data)
        except ValidationError as e:
            raise InvalidInput(problems_from_validation(e)) from None
        with self.pbx.tx() as repo:
            system, secrets, old, _v = repo.system()
            repo.save_system(system, secrets, hours)
            repo.bump_version()
            audit.record(
                repo.conn,
                self.principal,
                "update",
                "business_hours",
                "",
                old.model_dump(mode="json"),
                hours.model_dump(mode="json"),
            )
        return self.get_business_hours()

    @admin_only
    def patch_business_hours(self, patch: Any) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("", "a merge patch must be a JSON object")
        return self.replace_business_hours(merge_patch(self.get_business_hours(), patch))

    @admin_only
    def send_test_email(self, to: str) -> None:
        """Send a short message to ``to`` with the SMTP settings (MailNotConfigured,
        MailFailed when that does not work); in the audit log."""
        Mailer(self.pbx).send(
            to,
            "klapka: test email",
            "This is a test email from your klapka PBX: email is set up correctly.\n",
        )
        with self.pbx.tx() as repo:
            audit.record(repo.conn, self.principal, "test_email", "system", "", None, {"to": to})
