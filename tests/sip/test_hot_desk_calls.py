"""Hot desking through the real Kamailio: the hot-desk phone, registered as its guest,
dials the login code; it is answered with the result as the reason phrase and gets a SIP
NOTIFY check-sync; its new file holds the user's account, with which it registers; the
logout code sends it back to the guest. Registrations before and after from ``ul.dump``."""

from __future__ import annotations

import base64
import logging
import subprocess
from pathlib import Path

import pytest
from pbx4sip import Pbx4Sip
from sipp import _INVITE, Phone, free_udp_port, register_scenario, scenario
from test_reprovision import _CHECK_SYNC

from klapka.services.provisioning.server import Asked, ProvisioningServer

pytestmark = pytest.mark.slow

MAC = "805ec0900001"
AGENT = f"Yealink SIP-T54W 96.86.0.100 {MAC}"
GUEST_PW, USER_PW = "Guest-Secret-900", "Anna-Secret-102"
DOC = {
    "version": 1,
    "extensions": [
        {"number": "900", "first_name": "Desk", "sip_password": GUEST_PW,
         "features": {"hot_desking": True},
         "phones": [{"vendor": "Yealink", "model": "T54W", "mac": MAC}]},
        {"number": "102", "first_name": "Anna", "sip_password": USER_PW,
         "voicemail": {"pin": "4711"}},
    ],
}  # fmt: skip

# The final answer with its reason phrase checked, then the ACK.
_REFUSED_SAYING = """
  <recv response="{code}">
    <action>
      <ereg regexp="SIP/2.0 {code} {reason}" search_in="msg" check_it="true" assign_to="2"/>
      <ereg regexp="X-Klapka-Feature: applied" search_in="msg" check_it="true" assign_to="3"/>
    </action>
  </recv>
  <Reference variables="2,3"/>
  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
"""


def desk_phone(sip: Pbx4Sip, user: str, password: str) -> tuple[Phone, int]:
    """The hot-desk phone registered as ``user``, waiting for a check-sync."""
    port = free_udp_port()
    cmd = sip.sipp._command(scenario(_CHECK_SYNC), user, password, port, 20)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=sip.sipp.workdir
    )
    phone = Phone(user, proc)
    registered = sip.sipp.register(user, password, agent=AGENT, contact_port=port)
    if not registered.ok:
        phone.stop()
        raise AssertionError(registered.output)
    return phone, port


def dial(sip: Pbx4Sip, user: str, password: str, dialled: str, reason: str) -> None:
    invite = _INVITE.format(user=user, dialled=dialled, headers="")
    answer = _REFUSED_SAYING.format(code=603, reason=reason, user=user, dialled=dialled)
    result = sip.sipp.run(scenario(invite, answer), user, password, timeout=10)
    assert result.ok, result.output


def account(server: ProvisioningServer) -> tuple[str, str]:
    """The account in the phone's file, fetched as the phone does (its own credentials)."""
    creds = server.credentials(MAC)
    basic = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    reply = server.fetch(Asked(f"{MAC}.cfg", authorization=f"Basic {basic}", user_agent=AGENT))
    assert reply.status == 200, reply.body
    lines = dict(line.split(" = ", 1) for line in reply.body.splitlines() if " = " in line)
    return lines["account.1.user_name"], lines["account.1.password"]


def agents(sip: Pbx4Sip, number: str) -> list[str]:
    return [c.get("User-Agent", "") for c in sip.contacts(number)]


def test_login_and_logout_by_code_reprovision_and_reregister_the_phone(
    sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="klapka.sip")
    data = Path(sip.core.paths.root).parent
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(data))  # where check-sync finds the SIP core
    sip.apply(DOC)
    server = ProvisioningServer(sip.pbx, data)
    assert account(server) == ("900", GUEST_PW)

    # Before: the phone is registered as its guest.
    phone, port = desk_phone(sip, "900", GUEST_PW)
    sip.wait_registered("900")
    assert (agents(sip, "900"), agents(sip, "102")) == ([AGENT], [])

    dial(sip, "900", GUEST_PW, "*62102*4711", "Logged in as 102 until 00:00")
    result = phone.finish(timeout=15)  # the check-sync NOTIFY, answered 200
    assert result.ok, result.output
    # The login is logged, its PIN is not.
    assert "feature code *62102***** by 900" in caplog.text
    assert "4711" not in caplog.text

    # The phone fetches its new file, leaves the guest account and registers as the user.
    user, password = account(server)
    assert (user, password) == ("102", USER_PW)
    gone = sip.sipp.run(
        scenario(register_scenario("900", f"sip:900@127.0.0.1:{port}", AGENT, expires=0)),
        "900", GUEST_PW, port=port,
    )  # fmt: skip
    assert gone.ok, gone.output
    phone, port = desk_phone(sip, user, password)
    sip.wait_registered("102")
    # After: the same phone, registered as the user.
    assert (agents(sip, "900"), agents(sip, "102")) == ([], [AGENT])

    # Logout from the phone (now 102): a check-sync, and the guest's file again.
    dial(sip, "102", USER_PW, "*63", "Logged out 102")
    result = phone.finish(timeout=15)
    assert result.ok, result.output
    assert account(server) == ("900", GUEST_PW)
