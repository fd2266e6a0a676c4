"""The signing verbs: create, send, sign, decline, void, expire. Web views, API and CLI all call these.

Split by topic: ``envelopes`` (create, edit, authorise), ``routing`` (send, turns, links, completion,
decline, void, expiry), ``ceremony`` (the willingness check and the signature itself), ``seal_use``
(an organisation's seal, applied by a member or under an automatic grant) and ``seal_facts`` (what
signing tells seals about an envelope).
"""

from __future__ import annotations

from econtract.signing.services.ceremony import request_signing_code, sign
from econtract.signing.services.envelopes import (
    MAX_AMOUNT,
    MAX_FIELDS,
    MAX_PARTIES,
    FieldSpec,
    PartySpec,
    clean_amount,
    create_envelope,
    document_for_download,
    replace_recipients,
    sha256_hex,
    user_may_act_as,
)
from econtract.signing.services.routing import (
    REMINDER_INTERVAL,
    SIGNING_LINK_MAIL,
    decline,
    expire_overdue,
    open_signing_link,
    party_for_link,
    record_link_opened,
    remind,
    send_envelope,
    signing_link,
    turn_notifications,
    void,
)

__all__ = [
    "MAX_AMOUNT",
    "MAX_FIELDS",
    "MAX_PARTIES",
    "REMINDER_INTERVAL",
    "SIGNING_LINK_MAIL",
    "FieldSpec",
    "PartySpec",
    "clean_amount",
    "create_envelope",
    "decline",
    "document_for_download",
    "expire_overdue",
    "open_signing_link",
    "party_for_link",
    "record_link_opened",
    "remind",
    "replace_recipients",
    "request_signing_code",
    "send_envelope",
    "sha256_hex",
    "sign",
    "signing_link",
    "turn_notifications",
    "user_may_act_as",
    "void",
]
