"""An extension with every setting of docs/settings.md, and its defaults.

A new extension needs only a number; everything else has the default an admin of Yeastar
P-Series or 3CX would expect. Secrets (SIP password, portal password, voicemail PIN) are
``None`` when not given: the service keeps the stored value or generates a random one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from klapka.domain.destinations import OWN_VOICEMAIL, Destination, DestinationType, RuleAction
from klapka.domain.values import (
    Digits,
    Email,
    EndpointClass,
    IpNetwork,
    MacAddress,
    Mobile,
    Name63,
    Number,
    Pattern,
    PhoneNumber,
    Pin,
    PresenceStatus,
    RingTimeout,
    SipPassword,
    Text255,
    TimeZone,
    VoiceLanguage,
    check_user_password,
    int_range,
)


class Model(BaseModel):
    """Base of every settings model: unknown keys are errors, numbers may be given as ints."""

    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, validate_default=False, use_enum_values=False
    )


SectionT = TypeVar("SectionT", bound=BaseModel)


class Section(Model):
    """A settings section inside an extension. Frozen, so one default instance is shared
    by every extension that does not change it (validating 10,000 extensions stays fast)."""

    model_config = ConfigDict(frozen=True)


Forward = Destination | Literal[False]

_DEFAULTS: dict[type[BaseModel], BaseModel] = {}


def _default(cls: type[SectionT]) -> Any:
    """A field default: the shared instance of a frozen section (a factory, never copied)."""
    if cls not in _DEFAULTS:
        _DEFAULTS[cls] = cls()
    instance = _DEFAULTS[cls]
    return Field(default_factory=lambda: instance)


# --- Presence -------------------------------------------------------------------------


class ForwardRules(Section):
    """Forwarding of one call kind in one status: each rule a destination or ``false``."""

    always: Forward = False
    no_answer: Forward = OWN_VOICEMAIL
    busy: Forward = OWN_VOICEMAIL


class DndForwardRules(Section):
    """In do-not-disturb only the always rule exists; off means the caller hears busy."""

    always: Forward = OWN_VOICEMAIL

    @model_validator(mode="before")
    @classmethod
    def _only_always(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"busy", "no_answer"} & set(data)):
            raise ValueError("do_not_disturb has only an always rule (nothing rings in DND)")
        return data


class RingMobile(Section):
    enabled: bool = False
    prefix: Annotated[Digits, Field(max_length=16)] = ""


class AgentAutoSwitch(StrEnum):
    NO_ACTION = "no_action"
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"


def _all_classes() -> list[EndpointClass]:
    return list(EndpointClass)


class StatusSettings(Section):
    """What a status means for calls (every status but do_not_disturb)."""

    internal: ForwardRules = _default(ForwardRules)
    external: ForwardRules = _default(ForwardRules)
    ring_first: list[EndpointClass] = Field(default_factory=_all_classes)
    ring_second: list[EndpointClass] = Field(default_factory=list)
    ring_timeout: RingTimeout = 30
    ring_mobile: RingMobile = _default(RingMobile)
    push_notifications: bool = True
    agent_auto_switch: AgentAutoSwitch = AgentAutoSwitch.NO_ACTION
    greeting: Name63 | None = None

    @field_validator("ring_first", "ring_second")
    @classmethod
    def _unique(cls, v: list[EndpointClass]) -> list[EndpointClass]:
        if len(set(v)) != len(v):
            raise ValueError("must not list an endpoint class twice")
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> StatusSettings:
        both = set(self.ring_first) & set(self.ring_second)
        if both:
            names = ", ".join(sorted(c.value for c in both))
            raise ValueError(f"ring_second: {names} already rings in ring_first")
        return self


class DndSettings(Section):
    """Do not disturb: nothing rings; only the always rule, per call kind."""

    internal: DndForwardRules = _default(DndForwardRules)
    external: DndForwardRules = _default(DndForwardRules)
    push_notifications: bool = True
    agent_auto_switch: AgentAutoSwitch = AgentAutoSwitch.NO_ACTION
    greeting: Name63 | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_ringing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            ringing = {"ring_first", "ring_second", "ring_timeout", "ring_mobile"} & set(data)
            if ringing:
                raise ValueError(
                    f"{sorted(ringing)[0]}: not available in do_not_disturb (nothing rings)"
                )
        return data


class PresenceSettings(Section):
    available: StatusSettings = _default(StatusSettings)
    away: StatusSettings = _default(StatusSettings)
    business_trip: StatusSettings = _default(StatusSettings)
    do_not_disturb: DndSettings = _default(DndSettings)
    lunch_break: StatusSettings = _default(StatusSettings)
    off_work: StatusSettings = _default(StatusSettings)

    def of(self, status: PresenceStatus) -> StatusSettings | DndSettings:
        value: StatusSettings | DndSettings = getattr(self, status.value)
        return value


# --- Voicemail ------------------------------------------------------------------------


class NewMessageEmail(StrEnum):
    WITH_ATTACHMENT = "with_attachment"
    WITHOUT_ATTACHMENT = "without_attachment"
    OFF = "off"


class AfterEmailing(StrEnum):
    MARK_READ = "mark_read"
    DELETE = "delete"
    NOTHING = "nothing"


class Voicemail(Section):
    enabled: bool = True
    pin: Pin | None = None
    pin_authentication: bool = True
    new_message_email: NewMessageEmail = NewMessageEmail.OFF
    email_address: Email | None = None
    after_emailing: AfterEmailing = AfterEmailing.NOTHING
    play_date_and_time: bool = False
    play_caller_number: bool = False
    play_duration: bool = False
    greeting: Name63 | None = None
    min_message_seconds: Annotated[int, int_range(0, 60)] = 2
    max_message_seconds: Annotated[int, int_range(10, 3600)] = 600
    max_messages: Annotated[int, int_range(1, 1000)] = 100
    # A message with no sound above the silence level is dropped (a caller who hung up).
    discard_silence: bool = True
    # The language its prompts speak to callers and to its owner; None: system.language.
    language: VoiceLanguage | None = None

    @field_validator("new_message_email", mode="before")
    @classmethod
    def _yaml_off(cls, v: Any) -> Any:
        return "off" if v is False else v

    @model_validator(mode="after")
    def _rules(self) -> Voicemail:
        if (
            self.after_emailing is AfterEmailing.DELETE
            and self.new_message_email is not NewMessageEmail.WITH_ATTACHMENT
        ):
            raise ValueError(
                "after_emailing: delete needs new_message_email: with_attachment "
                "(a message is deleted only when its audio was sent)"
            )
        if self.min_message_seconds >= self.max_message_seconds:
            raise ValueError("min_message_seconds: must be less than max_message_seconds")
        return self


# --- Features -------------------------------------------------------------------------


class PresenceSchedule(Section):
    """Time-conditional presence switching: business-hours state -> status."""

    business_hours: PresenceStatus = PresenceStatus.AVAILABLE
    break_hours: PresenceStatus = PresenceStatus.LUNCH_BREAK
    holidays: PresenceStatus = PresenceStatus.OFF_WORK
    outside_business_hours: PresenceStatus = PresenceStatus.OFF_WORK
    timezone: TimeZone | None = None


class BossCallType(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"
    ALL = "all"


class Boss(Section):
    secretary: Destination
    call_type: BossCallType = BossCallType.ALL

    @field_validator("secretary")
    @classmethod
    def _extension_or_group(cls, v: Destination) -> Destination:
        if v.type not in (DestinationType.EXTENSION, DestinationType.RING_GROUP):
            raise ValueError("must be an extension or a ring group")
        return v


class CallerRule(Section):
    pattern: Pattern
    action: RuleAction


class UrlPopupCallType(StrEnum):
    INBOUND = "inbound"
    INTERNAL = "internal"


class UrlPopupTrigger(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    CALL_END = "call_end"


URL_VARIABLES = (
    "{{.CallerNumber}}",
    "{{.CallerDisplayName}}",
    "{{.CalleeNumber}}",
    "{{.CallID}}",
    "{{.Event}}",
)


class UrlPopup(Section):
    enabled: bool = False
    url: Annotated[str, Field(max_length=1024)] = ""
    call_types: list[UrlPopupCallType] = Field(
        default_factory=lambda: [UrlPopupCallType.INBOUND, UrlPopupCallType.INTERNAL]
    )
    triggers: list[UrlPopupTrigger] = Field(default_factory=lambda: [UrlPopupTrigger.RINGING])

    @model_validator(mode="after")
    def _url(self) -> UrlPopup:
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url: must start with http:// or https://")
        if self.enabled and not self.url:
            raise ValueError("url: required when the URL popup is enabled")
        return self


class DoorPhone(Section):
    enabled: bool = False
    auto_answer: bool = True
    door_open_code: Annotated[str, Field(pattern=r"^[0-9*#]{1,8}$")] = "*1"


class Features(Section):
    notify_password_change: bool = True
    notify_missed_call: bool = False
    all_busy: bool = False
    all_reject: bool = False
    presence_schedule: PresenceSchedule | None = None
    allow_monitoring: bool = True
    boss: Boss | None = None
    caller_rules: Annotated[list[CallerRule], Field(max_length=200)] = Field(default_factory=list)
    url_popup: UrlPopup = _default(UrlPopup)
    door_phone: DoorPhone = _default(DoorPhone)
    hot_desking: bool = False


# --- Advanced, Security, Clients, Phones, Function keys --------------------------------


class DtmfMode(StrEnum):
    RFC4733 = "rfc4733"
    INFO = "info"
    INBAND = "inband"
    AUTO = "auto"


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class Codec(StrEnum):
    PCMU = "PCMU"
    PCMA = "PCMA"
    G722 = "G722"
    OPUS = "opus"


class Advanced(Section):
    dtmf_mode: DtmfMode = DtmfMode.RFC4733
    transport: Transport = Transport.UDP
    qualify: bool = True
    nat: bool = True
    srtp: bool = False
    codecs: list[Codec] = Field(
        default_factory=lambda: [Codec.PCMU, Codec.PCMA, Codec.G722, Codec.OPUS]
    )

    @field_validator("codecs")
    @classmethod
    def _codecs(cls, v: list[Codec]) -> list[Codec]:
        if not v:
            raise ValueError("must list at least one codec")
        if len(set(v)) != len(v):
            raise ValueError("must not list a codec twice")
        return v


class FrequencyLimit(Section):
    """At most ``calls`` outbound calls per ``period_seconds``."""

    enabled: bool = True
    calls: Annotated[int, int_range(1, 10000)] = 5
    period_seconds: Annotated[int, int_range(1, 86400)] = 1


class Security(Section):
    allowed_ips: list[IpNetwork] = Field(default_factory=list)
    user_agent_prefix: Annotated[str, Field(max_length=127)] | None = None
    outbound_calls: bool = True
    # true = outbound calls allowed outside business hours too (the restriction is off).
    outbound_outside_business_hours: bool = True
    international_calls: bool = True
    frequency_limit: FrequencyLimit = _default(FrequencyLimit)
    max_call_seconds: Annotated[int, int_range(0, 86400)] = 0
    require_2fa: bool = False


class Clients(Section):
    mobile_client: bool = True
    desktop_client: bool = True
    web_client: bool = True


class Phone(Section):
    vendor: Name63 = ""
    model: Name63 = ""
    mac: MacAddress
    template: Name63 | None = None


class FunctionKeyType(StrEnum):
    BLF = "blf"
    SPEED_DIAL = "speed_dial"
    DND = "dnd"
    FORWARD = "forward"
    PRESENCE = "presence"
    PARK = "park"
    BOSS_SECRETARY = "boss_secretary"
    LINE = "line"


class FunctionKey(Section):
    key: Annotated[int, int_range(1, 200)]
    type: FunctionKeyType
    label: Name63 | None = None
    extension: Number | None = None
    number: PhoneNumber | None = None
    status: PresenceStatus | None = None

    @model_validator(mode="after")
    def _value(self) -> FunctionKey:
        needs = {
            FunctionKeyType.BLF: "extension",
            FunctionKeyType.SPEED_DIAL: "number",
            FunctionKeyType.PRESENCE: "status",
        }.get(self.type)
        for name in ("extension", "number", "status"):
            given = getattr(self, name) is not None
            if name == needs and not given:
                raise ValueError(f"{name}: required for a {self.type.value} key")
            if name != needs and given:
                raise ValueError(f"{name}: not used by a {self.type.value} key")
        return self


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


# --- The extension --------------------------------------------------------------------


class Extension(Model):
    """One extension: the User tab as fields, every other tab as a section."""

    number: Number
    enabled: bool = True
    first_name: Name63 = ""
    last_name: Name63 = ""
    email: Email | None = None
    mobile: Mobile = ""
    caller_id_name: Name63 | None = None
    caller_id_number: PhoneNumber | None = None
    sip_username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{2,63}$")] | None = None
    sip_password: SipPassword | None = None
    concurrent_registrations: Annotated[int, int_range(1, 5)] = 1
    user_password: Annotated[str, Field(max_length=255)] | None = None
    role: Role = Role.USER
    presence: PresenceStatus = PresenceStatus.AVAILABLE
    presence_note: Text255 = ""
    trunk_caller_ids: dict[str, PhoneNumber] = Field(default_factory=dict)
    presence_settings: PresenceSettings = _default(PresenceSettings)
    voicemail: Voicemail = _default(Voicemail)
    features: Features = _default(Features)
    advanced: Advanced = _default(Advanced)
    security: Security = _default(Security)
    clients: Clients = _default(Clients)
    phones: Annotated[list[Phone], Field(max_length=5)] = Field(default_factory=list)
    function_keys: Annotated[list[FunctionKey], Field(max_length=200)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> Extension:
        if not self.first_name and not self.last_name:
            self.first_name = self.number
        if self.user_password is not None and not self.user_password.startswith("$argon2"):
            try:
                check_user_password(
                    self.user_password, self.number, [self.first_name, self.last_name]
                )
            except ValueError as e:
                raise ValueError(f"user_password: {e}") from None
        if (
            self.voicemail.new_message_email is not NewMessageEmail.OFF
            and not self.email
            and not self.voicemail.email_address
        ):
            raise ValueError(
                "voicemail.new_message_email: needs the extension's email or "
                "voicemail.email_address"
            )
        macs = [p.mac for p in self.phones]
        if len(set(macs)) != len(macs):
            raise ValueError("phones: the same MAC address is listed twice")
        keys = [k.key for k in self.function_keys]
        if len(set(keys)) != len(keys):
            raise ValueError("function_keys: the same key position is used twice")
        for path, dest in self.destinations():
            if dest.type is DestinationType.MOBILE_NUMBER and not self.mobile:
                raise ValueError(f"{path}: needs the extension's mobile number (mobile)")
            if dest.type is DestinationType.EXTENSION and dest.extension == self.number:
                raise ValueError(f"{path}: an extension cannot forward to itself")
        for status in PresenceStatus:
            s = self.presence_settings.of(status)
            if isinstance(s, StatusSettings) and s.ring_mobile.enabled and not self.mobile:
                raise ValueError(
                    f"presence_settings.{status.value}.ring_mobile.enabled: needs the "
                    "extension's mobile number (mobile)"
                )
        return self

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def effective_caller_id_name(self) -> str:
        return self.caller_id_name or self.full_name

    @property
    def effective_caller_id_number(self) -> str:
        return self.caller_id_number or self.number

    @property
    def effective_sip_username(self) -> str:
        return self.sip_username or self.number

    def destinations(self) -> list[tuple[str, Destination]]:
        """Every destination in the extension's settings, with its path."""
        found: list[tuple[str, Destination]] = []
        ps = self.presence_settings
        for status, s in (
            ("available", ps.available),
            ("away", ps.away),
            ("business_trip", ps.business_trip),
            ("do_not_disturb", ps.do_not_disturb),
            ("lunch_break", ps.lunch_break),
            ("off_work", ps.off_work),
        ):
            for kind, rules in (("internal", s.internal), ("external", s.external)):
                conds = (
                    (("always", rules.always),)
                    if isinstance(rules, DndForwardRules)
                    else (
                        ("always", rules.always),
                        ("no_answer", rules.no_answer),
                        ("busy", rules.busy),
                    )
                )
                for cond, d in conds:
                    if d is not False:
                        found.append((f"presence_settings.{status}.{kind}.{cond}", d))
        if self.features.boss is not None:
            found.append(("features.boss.secretary", self.features.boss.secretary))
        for i, rule in enumerate(self.features.caller_rules):
            found.append((f"features.caller_rules[{i}].action", rule.action))
        return found


SECRET_FIELDS = ("sip_password", "user_password")
