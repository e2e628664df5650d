"""Real SIP clients for the tests: sipp scenarios generated for each role, run against the
Kamailio that klapka supervises on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

SIPP = shutil.which("sipp")


def free_udp_port() -> int:
    """A port free for UDP and for TCP (Kamailio listens on both with the same number)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue  # a TCP connection uses this number: take another
            return port
    raise RuntimeError("no port free for both UDP and TCP")


# The audio offer or answer of every test call: G.711 u-law from sipp's media port.
SDP = """v=0
o=klapka-test 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""

# REGISTER, 401, REGISTER with ``credentials`` (sipp's ``[authentication]``, or a CSV field
# with per-call credentials), then ``expect``.
_REGISTER = """
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <{contact}>
      Max-Forwards: 70
      User-Agent: {agent}
      Expires: {expires}
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <{contact}>
      {credentials}
      Max-Forwards: 70
      User-Agent: {agent}
      Expires: {expires}
      Content-Length: 0

  ]]></send>
  <recv response="{expect}"{optional}/>
"""


def register_scenario(
    user: str,
    contact: str,
    agent: str = "klapka-test-phone",
    expect: int = 200,
    credentials: str = "[authentication]",
    expires: int = 300,
) -> str:
    """The body of a sipp scenario registering ``user`` at ``contact`` with digest auth."""
    return _REGISTER.format(
        user=user, contact=contact, agent=agent, expect=expect, optional="",
        credentials=credentials, expires=expires,
    )  # fmt: skip


_RINGING = """
  <recv request="INVITE" timeout="{wait_ms}"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Length: 0

  ]]></send>
"""

# The 200 OK to the request just received (a BYE, a CANCEL, a NOTIFY within a dialog).
OK_TO_LAST = """
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
"""

_ANSWER = (
    """
  <pause milliseconds="{ring_ms}"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + SDP
    + """
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE" timeout="30000"/>
"""
    + OK_TO_LAST
)

_DECLINE = """
  <pause milliseconds="{ring_ms}"/>
  <send><![CDATA[
      SIP/2.0 {code} Declined
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
"""

_LET_RING = (
    """
  <recv request="CANCEL" timeout="{wait_ms}"/>
"""
    + OK_TO_LAST
    + """  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
"""
)

_INVITE = (
    """
  <send retrans="500"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70{headers}
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + SDP
    + """
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70{headers}
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

_CALL_ANSWERED = """
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""

_CALL_REFUSED = """
  <recv response="{code}"/>
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


def scenario(*parts: str) -> str:
    body = "".join(parts)
    return (
        f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="klapka">{body}</scenario>\n'
    )


@dataclass
class Result:
    ok: bool
    output: str


class Sipp:
    """Runs sipp scenarios against the PBX at ``port`` on 127.0.0.1, or from ``local_ip``
    in the network namespace ``netns`` to the PBX at ``server_ip`` (each message sipp sends
    and receives then logged to ``messages-N.log`` in ``workdir``)."""

    def __init__(
        self,
        port: int,
        workdir: Path,
        local_ip: str = "127.0.0.1",
        server_ip: str = "127.0.0.1",
        netns: str | None = None,
    ) -> None:
        self.port = port
        self.workdir = workdir
        self.count = 0
        self.local_ip, self.server_ip, self.netns = local_ip, server_ip, netns

    def _file(self, xml: str) -> Path:
        self.count += 1
        path = self.workdir / f"scenario-{self.count}.xml"
        path.write_text(xml)
        return path

    def _command(
        self, xml: str, user: str, password: str, local_port: int, timeout: int
    ) -> list[str]:
        assert SIPP is not None
        command = [
            SIPP, "-sf", str(self._file(xml)), "-au", user, "-ap", password, "-m", "1",
            "-nostdin", "-i", self.local_ip, "-p", str(local_port), "-timeout", f"{timeout}s",
            "-timeout_error", "-trace_err", "-error_file", str(self.workdir / f"err-{self.count}.log"),
            f"{self.server_ip}:{self.port}",
        ]  # fmt: skip
        if self.netns is None:
            return command
        log = self.workdir / f"messages-{self.count}.log"
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            *command,
            "-trace_msg",
            "-message_file",
            str(log),
        ]

    def run(
        self, xml: str, user: str, password: str, timeout: int = 20, port: int | None = None
    ) -> Result:
        """``port``: sipp's own (default: a free one)."""
        cmd = self._command(xml, user, password, port or free_udp_port(), timeout)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout + 10, cwd=self.workdir
        )
        return Result(proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:])

    def register(
        self,
        user: str,
        password: str,
        expect: int = 200,
        agent: str = "klapka-test-phone",
        contact_port: int | None = None,
    ) -> Result:
        port = str(contact_port) if contact_port else "[local_port]"
        contact = f"sip:{user}@[local_ip]:{port}"
        xml = scenario(register_scenario(user, contact, agent, expect))
        return self.run(xml, user, password)

    def phone(
        self, user: str, password: str, behaviour: str, ring_ms: int = 500, wait_ms: int = 30000
    ) -> Phone:
        """A registered phone in the background (a sipp UAS on its own port, registered
        with that port as its contact): ``answer``, ``decline`` (486), ``reject`` (603) or
        ``ring`` (rings until cancelled)."""
        parts = [_RINGING.format(user=user, wait_ms=wait_ms)]
        if behaviour == "answer":
            parts.append(_ANSWER.format(user=user, ring_ms=ring_ms))
        elif behaviour in ("decline", "reject"):
            code = 486 if behaviour == "decline" else 603
            parts.append(_DECLINE.format(code=code, ring_ms=ring_ms))
        else:
            parts.append(_LET_RING.format(wait_ms=wait_ms))
        port = free_udp_port()
        cmd = self._command(scenario(*parts), user, password, port, 60)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.workdir
        )
        phone = Phone(user, proc)
        registered = self.register(user, password, contact_port=port)
        if not registered.ok:
            phone.stop()
            raise AssertionError(f"{user} could not register: {registered.output}")
        return phone

    def call(
        self,
        user: str,
        password: str,
        dialled: str,
        expect: int,
        talk_ms: int = 200,
        timeout: int = 40,
        headers: tuple[str, ...] = (),
    ) -> Result:
        """``headers``: more header lines for the INVITE (``Referred-By: ...``)."""
        extra = "".join(f"\n      {h}" for h in headers)
        parts = [_INVITE.format(user=user, dialled=dialled, headers=extra)]
        if expect == 200:
            parts.append(_CALL_ANSWERED.format(user=user, dialled=dialled, talk_ms=talk_ms))
        else:
            parts.append(_CALL_REFUSED.format(user=user, dialled=dialled, code=expect))
        return self.run(scenario(*parts), user, password, timeout=timeout)


@dataclass
class Phone:
    user: str
    proc: subprocess.Popen[str]

    def finish(self, timeout: float = 40) -> Result:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return Result(self.proc.returncode == 0, out[-3000:] if out else "")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
