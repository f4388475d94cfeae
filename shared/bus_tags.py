"""Application authentication of the records on the bus (DESIGN §9).

A write to Kafka is a write to the product, and the broker's ACLs are only the first control:
a stolen or misconfigured principal with produce rights could otherwise reset lockouts,
spend TOTP steps, weaken a practice's policy or fabricate audit records. So every record
Tweestap's producer sends (:class:`shared.bus.Bus`, the one producer of the outbox relay)
carries a header ``tweestap-tag``: an AES-256-GCM seal of nothing under the deployment's
sealing keyring, which host systems and other broker principals do not have, with the
record's topic, key and value as associated data. The tag covers the whole envelope
(``source``, ``time``, ``data``), so the "other zone" filters and the bounds of
:mod:`shared.bounds` read authenticated fields, and it rotates with the keyring (every key in
the ring opens a tag).

A consumer checks the tag of every record (:class:`shared.consumer.EventConsumer`) and
dead-letters an untagged or wrongly tagged one on a topic whose events change security state
(:attr:`shared.topics.Topic.tagged`). ``directory.employees`` stays open to host systems
(an untagged upsert there cannot make an administrator: :mod:`shared.directory_trust`), and
``sts.keys`` is authenticated by the trust key's signature (:mod:`shared.trust`).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.sealing import Keyring, SealingError
from shared.settings import Settings

HEADER = "tweestap-tag"
_PURPOSE = b"tweestap bus record v1\n"


def _aad(topic: str, key: bytes | None, value: bytes) -> bytes:
    """The bytes a tag covers; the key is length-prefixed so that no two (key, value) pairs
    give the same bytes."""
    key = key or b""
    return b"%s%s\n%d\n%s%s" % (_PURPOSE, topic.encode(), len(key), key, value)


class BusTags:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @classmethod
    def from_settings(cls, settings: Settings) -> BusTags:
        spec = settings.sealing_keys.get_secret_value()
        if not spec.strip():
            raise ValueError(
                "TWEESTAP_SEALING_KEYS is required: every record on the bus is tagged with it"
            )
        return cls(Keyring.parse(spec))

    def tag(self, topic: str, key: bytes | None, value: bytes) -> bytes:
        """The ``tweestap-tag`` header value of a record."""
        return self._keyring.seal(b"", _aad(topic, key, value)).encode()

    def headers(self, topic: str, key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
        return [(HEADER, self.tag(topic, key, value))]

    def valid(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None,
    ) -> bool:
        """Whether the record carries exactly one tag and it opens over this record."""
        tags = [v for name, v in headers or () if name == HEADER]
        if len(tags) != 1:
            return False
        try:
            self._keyring.open(tags[0].decode("ascii"), _aad(topic, key, value))
        except (SealingError, UnicodeDecodeError):
            return False
        return True
