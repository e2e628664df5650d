"""What an app login answers: the SIP port the SIP core really listens on (read from the
configuration klapka wrote for Kamailio), by the extension's transport; and Linphone's
provisioning XML, well-formed whatever the names hold. No SIP core runs here."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.welcome import (
    LINPHONE_XMLNS,
    LinkNotValid,
    Welcome,
    app_login,
    app_login_offer,
    linphone_provisioning,
    listening,
)
from klapka.sip.kamailio_cfg import render


def written_cfg(root: Path, addresses: tuple[str, ...], udp: int, tls: int | None) -> SipPaths:
    """The configuration `klapka serve` writes for Kamailio, with these sockets."""
    paths = SipPaths(root)
    root.mkdir(parents=True, exist_ok=True)
    text = render(paths, addresses, udp, udp, tls_port=tls, ws_port=8088, wss_port=8089)
    paths.cfg.write_text(text)
    return paths


def test_the_ports_are_those_kamailio_was_started_with_websocket_ones_aside(
    tmp_path: Path,
) -> None:
    paths = written_cfg(tmp_path / "a", ("127.0.0.1", "::1", "192.0.2.7"), 5070, 5071)
    assert listening(paths) == {"udp": 5070, "tcp": 5070, "tls": 5071}
    assert listening(written_cfg(tmp_path / "b", ("127.0.0.1",), 5080, None)) == {
        "udp": 5080,
        "tcp": 5080,
    }
    assert listening(SipPaths(tmp_path / "never-ran")) == {}


@pytest.fixture
def jana(pbx: Pbx) -> Pbx:
    SystemSettings(pbx).patch({"portal_url": "https://pbx.example.com"})
    Objects(pbx).create(
        Kind.EXTENSION,
        {
            "number": "101",
            "first_name": 'Jana "J&J"',
            "last_name": "<Nováková>",
            "sip_password": "Secret-2027-abcd",
            "clients": {"mobile_client": True},
        },
    )
    return pbx


def token_of(pbx: Pbx) -> str:
    return str(Welcome(pbx).login_link("101")["link"].split("#token=")[1])


def test_the_answer_has_the_running_port_else_the_settings(jana: Pbx, tmp_path: Path) -> None:
    running = written_cfg(tmp_path / "sip", ("127.0.0.1",), 5999, 5998)
    sip = app_login(jana, token_of(jana), sip=running)["sip"]
    assert (sip["server"], sip["port"], sip["transport"]) == ("pbx.example.com", 5999, "udp")
    never = SipPaths(tmp_path / "never")
    assert app_login(jana, token_of(jana), sip=never)["sip"]["port"] == 5060
    Objects(jana).patch(Kind.EXTENSION, "101", {"advanced": {"transport": "tls"}})
    assert app_login(jana, token_of(jana), sip=running)["sip"]["port"] == 5998
    assert app_login(jana, token_of(jana), sip=never)["sip"]["port"] == 5061


def test_linphones_xml_is_well_formed_and_works_once(jana: Pbx, tmp_path: Path) -> None:
    running = written_cfg(tmp_path / "sip", ("127.0.0.1",), 5999, None)
    token = token_of(jana)
    offer = app_login_offer(jana, token)
    assert offer is not None
    assert offer["provisioning_url"] == (
        f"https://pbx.example.com/api/v1/auth/app-login/{token}/linphone.xml"
    )
    assert offer["linphone_link"] == "linphone-config:" + offer["provisioning_url"]
    assert offer["qr_png"].startswith(b"\x89PNG")
    assert app_login_offer(jana, token) is not None  # looking spends nothing
    root = ET.fromstring(linphone_provisioning(jana, token, "192.0.2.1", running))
    entries = {
        (section.get("name"), entry.get("name")): entry.text
        for section in root.iter(f"{{{LINPHONE_XMLNS}}}section")
        for entry in section
    }
    assert entries[("proxy_0", "reg_proxy")] == "<sip:pbx.example.com:5999;transport=udp>"
    assert entries[("proxy_0", "reg_identity")] == (
        '"Jana J&J <Nováková>" <sip:101@pbx.example.com>'
    )
    assert entries[("auth_info_0", "passwd")] == "Secret-2027-abcd"
    assert entries[("auth_info_0", "userid")] == "101"
    assert entries[("misc", "transient_provisioning")] == "1"
    assert app_login_offer(jana, token) is None
    with pytest.raises(LinkNotValid):
        linphone_provisioning(jana, token, None, running)
