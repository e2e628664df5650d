"""Re-provision: the admin's button sends the phone a SIP NOTIFY ``check-sync`` through the
real Kamailio, to the extension's registered desk phone (a sipp UAS registered as it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pbx4sip import Pbx4Sip
from sipp import Phone, free_udp_port, scenario

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens

pytestmark = pytest.mark.slow

MAC = "805ec0aabbcc"
DOC = {
    "version": 1,
    "extensions": [
        {
            "number": "101",
            "sip_password": "Secret1234a",
            "concurrent_registrations": 2,
            "phones": [{"vendor": "Yealink", "model": "T54W", "mac": MAC}],
        },
    ],
}

# Waits for the NOTIFY, checks its Event header, answers 200.
_CHECK_SYNC = """
  <recv request="NOTIFY" timeout="20000">
    <action>
      <ereg regexp="check-sync" search_in="hdr" header="Event:" check_it="true" assign_to="1"/>
    </action>
  </recv>
  <Reference variables="1"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
"""


def desk_phone(sip: Pbx4Sip, agent: str) -> Phone:
    port = free_udp_port()
    cmd = sip.sipp._command(scenario(_CHECK_SYNC), "101", "Secret1234a", port, 30)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=sip.sipp.workdir
    )
    phone = Phone("101", proc)
    registered = sip.sipp.register("101", "Secret1234a", agent=agent, contact_port=port)
    if not registered.ok:
        phone.stop()
        raise AssertionError(registered.output)
    return phone


def test_reprovision_sends_check_sync_to_the_registered_desk_phone(
    sip: Pbx4Sip, tmp_path: Path
) -> None:
    sip.apply(DOC)
    phone = desk_phone(sip, f"Yealink SIP-T54W 96.86.0.100 {MAC}")
    # An app of the same extension is no desk phone: it gets nothing.
    app = sip.sipp.register("101", "Secret1234a", agent="klapka Mobile 1.0")
    assert app.ok, app.output
    sip.wait_registered("101", count=2)
    api = create_app(sip.pbx)
    api.state.data_dir = str(sip.core.paths.root.parent)
    token = Tokens(sip.pbx).create(name="admin")
    with TestClient(api, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.post(f"/api/v1/extensions/101/phones/{MAC}/reprovision")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"extension": "101", "mac": MAC, "sent": 1}
        result = phone.finish(timeout=25)
        assert result.ok, result.output
        entries = client.get("/api/v1/audit", params={"action": "reprovision"}).json()["items"]
        assert [(e["kind"], e["key"], e["actor"]) for e in entries] == [
            ("phone", MAC, "token admin")
        ]
        # Unknown phone: 404; the SIP core's RPC is there, so nothing else fails.
        assert (
            client.post("/api/v1/extensions/101/phones/001122334455/reprovision").status_code == 404
        )
