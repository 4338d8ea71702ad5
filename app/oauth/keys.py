"""Token signing keys: the current one signs, every published one verifies, rotation retires.

A retired key stays published until the last token it signed has expired; the next rotation after
that erases its private half. Each process caches imported keys by kid (a kid never changes meaning) and
reloads the published set from the database when it meets an unknown kid or every minute, so a
rotation made by another process is seen at once for new keys and within a minute for retirement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

from flask import current_app
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select

from app.audit.services import record
from app.db import advisory_xact_lock, db, utcnow
from app.oauth import settings
from app.oauth.models import SigningKey

SIGNING_ALG = "ES256"
CURVE = "P-256"
# Any fixed number works; it only has to be the same in every process.
ROTATION_LOCK_ID = 7_400_005
RELOAD_EVERY_SECONDS = 60
# An unknown kid reloads the published keys (one may have been made in another process), but
# at most this often: tokens with made-up kids must not cost a database query each.
UNKNOWN_KID_RELOAD_SECONDS = 1.0


def _lock_rotation() -> None:
    """Serialize key creation across processes so exactly one key is current."""
    advisory_xact_lock(ROTATION_LOCK_ID)


def _current_kid() -> str | None:
    return db.session.scalar(
        select(SigningKey.kid)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.id.desc())
        .limit(1)
    )


def _generate() -> SigningKey:
    key = ECKey.generate_key(
        CURVE, parameters={"alg": SIGNING_ALG, "use": "sig"}, private=True, auto_kid=True
    )
    row = SigningKey(
        kid=key.kid,
        alg=SIGNING_ALG,
        public_jwk=key.as_dict(private=False),
        private_jwk=json.dumps(key.as_dict(private=True)),
    )
    db.session.add(row)
    db.session.flush()
    return row


def current_kid() -> str:
    """The kid new tokens are signed with; the very first key is made on first use."""
    kid = _current_kid()
    if kid is None:
        _lock_rotation()
        kid = _current_kid()
        if kid is None:
            row = _generate()
            record("oauth.signing_key.created", target=row, details={"kid": row.kid})
            _cache().clear()  # this process knows its new key at once
            kid = row.kid
    return kid


def signing_keyset() -> KeySet:
    """The current private key as a one-key set (authlib then writes its kid in the header)."""
    cache = _cache()
    kid = current_kid()
    key = cache.private.get(kid)
    if key is None:
        row = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
        key = ECKey.import_key(json.loads(row.private_jwk))  # type: ignore[union-attr, arg-type]
        cache.private[kid] = key
    return KeySet([key])


def current_private_key() -> tuple[ECKey, str]:
    """The current signing key and its kid, for what else the portal signs (audit checkpoints)."""
    kid = current_kid()
    return signing_keyset().get_by_kid(kid), kid  # type: ignore[return-value]


def known_public_key(kid: str) -> ECKey | None:
    """The public half of any key the portal made, published or retired: signatures that must
    verify for years (audit checkpoints) outlive the key's publication for tokens."""
    jwk = db.session.scalar(select(SigningKey.public_jwk).where(SigningKey.kid == kid))
    return ECKey.import_key(jwk) if jwk else None


def rotate(actor_label: str = "cli", actor=None) -> tuple[SigningKey, SigningKey | None]:
    """Make a new current key; the previous one stays published until its tokens expired."""
    _lock_rotation()
    now = utcnow()
    previous = db.session.scalar(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id.desc())
    )
    if previous is not None:
        previous.retired_at = now
        previous.publish_until = now + dt.timedelta(
            seconds=settings.token_ttl() + settings.LEEWAY_SECONDS
        )
    _erase_unpublished(now)
    new = _generate()
    record(
        "oauth.signing_key.rotated",
        actor=actor,
        actor_label=actor_label,
        target=new,
        details={"kid": new.kid, "previous_kid": previous.kid if previous else None},
    )
    _cache().clear()
    return new, previous


def _erase_unpublished(now: dt.datetime) -> None:
    rows = db.session.scalars(
        select(SigningKey).where(
            SigningKey.publish_until <= now, SigningKey.private_jwk.is_not(None)
        )
    )
    for row in rows:
        row.private_jwk = None


def _published_rows() -> list[tuple[str, dict, dt.datetime | None]]:
    """kid, public JWK and publish_until of each published key, newest first; only public
    columns are read, so the encrypted private keys are not decrypted."""
    now = utcnow()
    rows = db.session.execute(
        select(SigningKey.kid, SigningKey.public_jwk, SigningKey.publish_until).order_by(
            SigningKey.id.desc()
        )
    ).all()
    return [(kid, jwk, until) for kid, jwk, until in rows if until is None or until > now]


def jwks() -> dict:
    """The public JWK set published at /.well-known/jwks.json."""
    return {"keys": [jwk for _, jwk, _ in _published_rows()]}


def verification_key(kid: str | None) -> ECKey | None:
    """The published public key with this kid, or None (unknown, or no longer published)."""
    if not kid:
        return None
    cache = _cache()
    if cache.is_stale() or (kid not in cache.public and cache.may_look_again()):
        cache.load(
            {kid: _PublicKey(ECKey.import_key(jwk), until) for kid, jwk, until in _published_rows()}
        )
    return cache.lookup(kid, utcnow())


@dataclasses.dataclass(frozen=True)
class _PublicKey:
    key: ECKey
    publish_until: dt.datetime | None


class KeyCache:
    """Per-process cache of imported keys; kept in app.extensions so each app has its own."""

    def __init__(self) -> None:
        self.public: dict[str, _PublicKey] = {}
        self.private: dict[str, ECKey] = {}
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    def is_stale(self) -> bool:
        return time.monotonic() - self.loaded_at > RELOAD_EVERY_SECONDS

    def may_look_again(self) -> bool:
        """Whether an unknown kid may reload the keys yet."""
        return time.monotonic() - self.loaded_at >= UNKNOWN_KID_RELOAD_SECONDS

    def load(self, keys: dict[str, _PublicKey]) -> None:
        with self.lock:
            self.public = keys
            self.loaded_at = time.monotonic()

    def lookup(self, kid: str, now: dt.datetime) -> ECKey | None:
        entry = self.public.get(kid)
        if entry is None or (entry.publish_until is not None and entry.publish_until <= now):
            return None
        return entry.key

    def clear(self) -> None:
        with self.lock:
            self.public, self.private, self.loaded_at = {}, {}, 0.0


def _cache() -> KeyCache:
    cache = current_app.extensions.get("oauth_key_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("oauth_key_cache", KeyCache())
    return cache
