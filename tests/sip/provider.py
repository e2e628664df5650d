"""A SIP provider for the trunk tests: sipp on its own port, as a registrar (a register
trunk registers to it), as the far end of outbound calls, and as the origin of inbound calls."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sipp import _ANSWER as _PHONE_ANSWER
from sipp import SDP, SIPP, Phone, Result, scenario


def _reply(status: str, *headers: str, send: str = "<send>") -> str:
    """A response to the request just received (dialog tag ``prov``), without a body."""
    extra = "".join(f"      {h}\n" for h in headers)
    return f"""
  {send}<![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]prov[call_number]
      [last_Call-ID:]
      [last_CSeq:]
{extra}      Content-Length: 0

  ]]></send>"""


_AUTH = 'WWW-Authenticate: Digest realm="provider.test", nonce="[pid]{nonce}[call_number]", algorithm=MD5'

_CHALLENGE_REGISTER = (
    """
  <recv request="REGISTER" timeout="{wait_ms}"/>"""
    + _reply("401 Unauthorized", _AUTH.format(nonce="n"))
    + """
  <recv request="REGISTER" timeout="{wait_ms}">
    <action>
      <ereg regexp="Contact: &lt;sip:trunk-{trunk}@" search_in="msg" check_it="true" assign_to="c"/>
      <log message="contact [$c]"/>
      <verifyauth assign_to="authvalid" username="{username}" password="{password}"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>"""
    + _reply("403 Forbidden", send='<send next="done">')
    + """
  <label id="good"/>"""
    + _reply("200 OK", "[last_Contact:];expires=3600")
    + """
  <label id="done"/>
"""
)

_INVITE_IN = """
  <recv request="INVITE" timeout="{wait_ms}">
    <action>
      {checks}
    </action>
  </recv>
  <nop hide="true"><action><log message="checked: {used}"/></action></nop>
"""

_CHALLENGE_INVITE = (
    _reply("401 Unauthorized", _AUTH.format(nonce="i"))
    + """
  <recv request="ACK"/>
  <recv request="INVITE" timeout="5000">
    <action>
      <verifyauth assign_to="authvalid" username="{username}" password="{password}"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="authok"/>"""
    + _reply("403 Forbidden")
    + """
  <recv request="ACK"/>
  <recv request="INFO" timeout="300"/>
  <label id="authok"/>
"""
)

_REFUSE = (
    _reply("{code} {reason}")
    + """
  <recv request="ACK"/>
"""
)

# The far end answers as a phone does, at once.
_ANSWER = _PHONE_ANSWER.format(user="far", ring_ms=0)

_CALL_IN = (
    """
  <send retrans="500"><![CDATA[
      INVITE sip:{did}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@provider.test>;tag=[call_number]
      To: <sip:{did}@provider.test>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + SDP
    + """
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""
)

_IN_ANSWERED = """
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{caller}@provider.test>;tag=[call_number]
      To: <sip:{did}@provider.test>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{caller}@provider.test>;tag=[call_number]
      To: <sip:{did}@provider.test>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""

_IN_REFUSED = """
  <recv response="{code}"/>
  <send><![CDATA[
      ACK sip:{did}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@provider.test>;tag=[call_number]
      To: <sip:{did}@provider.test>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
"""


def _check(regexp: str, name: str) -> str:
    escaped = regexp.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<ereg regexp="{escaped}" search_in="msg" check_it="true" assign_to="{name}"/>'


class Provider:
    """sipp playing the provider on 127.0.0.1:``port``; the PBX's Kamailio is ``pbx_port``."""

    def __init__(self, port: int, pbx_port: int, workdir: Path) -> None:
        self.port = port
        self.pbx_port = pbx_port
        self.workdir = workdir
        self.count = 0

    def _start(self, body: str, timeout: int = 40) -> Phone:
        assert SIPP is not None
        self.count += 1
        path = self.workdir / f"provider-{self.port}-{self.count}.xml"
        path.write_text(scenario(body))
        cmd = [
            SIPP, "-sf", str(path), "-m", "1", "-nostdin", "-i", "127.0.0.1",
            "-p", str(self.port), "-timeout", f"{timeout}s", "-timeout_error",
            f"127.0.0.1:{self.pbx_port}",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.workdir
        )
        return Phone("provider", proc)

    def registrar(self, trunk: str, username: str, password: str) -> Phone:
        """Accepts one registration of ``trunk`` with these credentials (403 otherwise)."""
        return self._start(
            _CHALLENGE_REGISTER.format(
                wait_ms=20000, trunk=trunk, username=username, password=password
            )
        )

    def far_end(
        self,
        behaviour: str,
        expect_uri: str | None = None,
        expect_headers: tuple[str, ...] = (),
        auth: tuple[str, str] | None = None,
        wait_ms: int = 20000,
    ) -> Phone:
        """Receives one outbound call: ``answer`` or a refusal code (``503``, ``486``...).
        The INVITE must carry ``expect_uri`` and match each regexp in ``expect_headers``; with
        ``auth`` the provider first challenges (401, as many providers do; sipp checks only
        an Authorization header) and checks the credentials."""
        checks = []
        names = []
        if expect_uri is not None:
            checks.append(_check(f"INVITE {expect_uri} SIP/2.0", "u"))
            names.append("u")
        checks += [_check(h, f"h{i}") for i, h in enumerate(expect_headers)]
        names += [f"h{i}" for i in range(len(expect_headers))]
        body = _INVITE_IN.format(
            wait_ms=wait_ms,
            checks="\n      ".join(checks),
            used=" ".join(f"[${n}]" for n in names),
        )
        if auth is not None:
            body += _CHALLENGE_INVITE.format(username=auth[0], password=auth[1])
        if behaviour == "answer":
            body += _ANSWER
        else:
            body += _REFUSE.format(code=behaviour, reason="Refused")
        return self._start(body)

    def call(self, caller: str, did: str, expect: int, timeout: int = 40) -> Result:
        """An inbound call from the provider's port to ``did``."""
        body = _CALL_IN.format(caller=caller, did=did)
        if expect == 200:
            body += _IN_ANSWERED.format(caller=caller, did=did)
        else:
            body += _IN_REFUSED.format(caller=caller, did=did, code=expect)
        phone = self._start(body, timeout=timeout)
        return phone.finish(timeout + 10)
