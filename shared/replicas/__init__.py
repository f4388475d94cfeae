"""The replicated read models a service keeps in its own database, one shared mechanism each
(DESIGN §4): a service opts into the parts it needs, names them in its
:class:`shared.db.Migrations` (each part's tables come from its own migrations, under
``migrations/<part>/``) and takes their handlers in its consumers.

Parts:
- ``keys`` (:mod:`.keys`): every zone's public signing keys from ``sts.keys``;
- ``revocations`` (:mod:`.revocations`): revoked sessions and session cutoffs from
  ``sts.revocations``;
- ``factors`` (:mod:`.factors`): second factors from ``factors``;
- the directory (:mod:`.directory`): practices and employees from ``directory.practices`` and
  ``directory.employees``. Its tables stay each service's own, because each keeps only the
  fields it needs (only enrolment keeps birth dates, phone numbers and BSN hashes); how they
  merge, who may make an administrator, username uniqueness and "out of service ends every
  session" are here;
- counters (:mod:`.counters`): failures counted per zone and summed, with a reset (logins,
  identity checks).

Every function takes the caller's connection (the consumer's transaction)."""

from __future__ import annotations

from shared.replicas.factors import FACTORS as FACTORS
from shared.replicas.factors import upsert_factor as upsert_factor
from shared.replicas.keys import on_key as on_key
from shared.replicas.keys import public_keys as public_keys
from shared.replicas.keys import upsert_public_key as upsert_public_key
from shared.replicas.revocations import add_revocation as add_revocation
from shared.replicas.revocations import end_sessions as end_sessions
from shared.replicas.revocations import on_revocation as on_revocation
from shared.replicas.revocations import raise_cutoff as raise_cutoff
from shared.replicas.revocations import revoke_session as revoke_session
