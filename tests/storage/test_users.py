"""Users and API keys: only salted hashes are stored, wrong and revoked keys fail."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clearway.errors import AuthError, StorageError
from clearway.storage.models import ApiKeyRow, UserRow, utcnow
from clearway.storage.users import (
    add_user,
    authenticate,
    hash_secret,
    issue_key,
    list_users,
    revoke_key,
    verify_secret,
)


def test_a_new_key_authenticates_as_its_user_and_role(sessions):
    with sessions.begin() as s:
        user, key = add_user(s, "dispatch-1", "dispatcher")
    assert user.role == "dispatcher" and len(user.keys) == 1
    with sessions() as s:
        p = authenticate(s, key)
    assert (p.user, p.role, p.key_id) == ("dispatch-1", "dispatcher", user.keys[0].key_id)


def test_only_a_salted_hash_of_the_key_is_stored(sessions):
    with sessions.begin() as s:
        _, key1 = add_user(s, "a", "viewer")
        _, key2 = add_user(s, "b", "viewer")
    secret1 = key1.split("_", 2)[2]  # cwk_<key id>_<secret>
    with sessions() as s:
        hashes = s.scalars(select(ApiKeyRow.key_hash)).all()
    assert len(hashes) == 2
    for h in hashes:
        assert key1 not in h and key2 not in h and secret1 not in h
        assert h.startswith("scrypt$")
    # per-key salt: the same secret hashed twice gives two different strings, both valid
    h1, h2 = hash_secret("same"), hash_secret("same")
    assert h1 != h2 and verify_secret("same", h1) and verify_secret("same", h2)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # one character of the secret
        lambda k: k.replace(k.split("_")[1], "00000000", 1),  # another (unknown) key id
        lambda k: "",
        lambda k: "Bearer " + k,
        lambda k: k.split("_", 2)[2],
    ],  # the secret without its id
    ids=["wrong-secret", "unknown-id", "empty", "prefixed", "secret-only"],
)
def test_wrong_keys_fail(sessions, mangle):
    with sessions.begin() as s:
        _, key = add_user(s, "op", "operator")
    with sessions() as s, pytest.raises(AuthError, match="invalid or revoked"):
        authenticate(s, mangle(key))


def test_revoked_key_fails_and_other_keys_still_work(sessions):
    with sessions.begin() as s:
        user, key1 = add_user(s, "ops", "operator")
        key_id2, key2 = issue_key(s, "ops")
    with sessions.begin() as s:
        info = revoke_key(s, user.keys[0].key_id)
        again = revoke_key(s, user.keys[0].key_id)
    assert info.revoked_at is not None and again.revoked_at == info.revoked_at
    with sessions() as s:
        with pytest.raises(AuthError):
            authenticate(s, key1)
        assert authenticate(s, key2).key_id == key_id2
        listed = list_users(s)
    assert [(k.key_id, k.active) for k in listed[0].keys] == [
        (user.keys[0].key_id, False),
        (key_id2, True),
    ]


@pytest.mark.parametrize(
    ("name", "role", "words"),
    [
        ("x", "superuser", "unknown role"),
        ("has space", "viewer", "must be"),
        ("", "viewer", "must be"),
    ],
)
def test_bad_names_and_roles_are_refused(sessions, name, role, words):
    with sessions.begin() as s, pytest.raises(StorageError, match=words):
        add_user(s, name, role)


def test_duplicate_user_and_unknown_key_id_are_clear_errors(sessions):
    with sessions.begin() as s:
        add_user(s, "admin1", "admin")
    with sessions.begin() as s, pytest.raises(StorageError, match="exists"):
        add_user(s, "admin1", "viewer")
    with sessions.begin() as s, pytest.raises(StorageError, match="no API key with id"):
        revoke_key(s, "deadbeef")
    with sessions.begin() as s, pytest.raises(StorageError, match="no user"):
        issue_key(s, "nobody")


def test_the_database_itself_refuses_an_unknown_role(sessions):
    with sessions() as s, pytest.raises(IntegrityError):
        s.add(UserRow(name="sneaky", role="root", created_at=utcnow()))
        s.flush()


def test_a_transit_user_is_stored_and_the_database_takes_its_role(sessions):
    with sessions.begin() as s:
        user, key = add_user(s, "avl-bridge", "transit")
    with sessions() as s:
        assert authenticate(s, key).role == "transit"
        assert s.execute(select(UserRow.role).where(UserRow.name == "avl-bridge")).scalar() == (
            "transit"
        )
