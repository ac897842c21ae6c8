import pytest

from consent import services
from consent.gate import ConsentRequired, granted_purposes, require
from consent.models import Policy, Purpose
from tests.conftest import grant_all


def test_nothing_is_granted_before_consent(user, policy):
    assert granted_purposes(user) == set()
    with pytest.raises(ConsentRequired) as missing:
        require(user, Purpose.BIOMETRIC)
    assert missing.value.purposes == ["biometric"]


def test_each_purpose_is_granted_separately(user, policy):
    services.grant(
        user,
        ["biometric"],
        policy_version=policy.version,
        policy_hash=policy.digest,
        age_confirmed=True,
        method="web",
    )
    assert granted_purposes(user) == {"biometric"}
    with pytest.raises(ConsentRequired):
        require(user, Purpose.BIOMETRIC, Purpose.RENDER)


def test_withdrawal_removes_only_that_purpose(consenting_user):
    services.withdraw(consenting_user, ["render"], method="web")
    assert granted_purposes(consenting_user) == {"biometric", "keep_clone"}


def test_grant_needs_the_age_confirmation(user, policy):
    with pytest.raises(services.ConsentError) as error:
        services.grant(
            user,
            ["biometric"],
            policy_version=policy.version,
            policy_hash=policy.digest,
            age_confirmed=False,
            method="web",
        )
    assert error.value.code == "age_not_confirmed"


def test_grant_against_a_stale_policy_hash_is_refused(user, policy):
    with pytest.raises(services.ConsentError) as error:
        services.grant(
            user,
            ["biometric"],
            policy_version=policy.version,
            policy_hash="0" * 64,
            age_confirmed=True,
            method="api",
        )
    assert error.value.code == "stale_policy"


def test_unknown_purpose_is_refused(user, policy):
    with pytest.raises(services.ConsentError):
        services.grant(
            user,
            ["advertising"],
            policy_version=policy.version,
            policy_hash=policy.digest,
            age_confirmed=True,
            method="api",
        )


def test_policy_that_changes_purposes_asks_again(consenting_user, policy, tmp_path):
    version_2 = tmp_path / "2"
    version_2.mkdir()
    (version_2 / "policy.json").write_text('{"version": 2, "purposes": ["biometric", "render"]}')
    (version_2 / "en.md").write_text("# v2")
    services.publish_policies(tmp_path)
    assert Policy.objects.get(active=True).version == 2
    assert granted_purposes(consenting_user) == set()


def test_policy_text_change_keeps_consent(consenting_user, policy, tmp_path):
    version_2 = tmp_path / "2"
    version_2.mkdir()
    (version_2 / "policy.json").write_text(
        '{"version": 2, "purposes": ["biometric", "keep_clone", "render"]}'
    )
    (version_2 / "en.md").write_text("# v2, clearer wording")
    services.publish_policies(tmp_path)
    assert granted_purposes(consenting_user) == {"biometric", "keep_clone", "render"}


def test_publishing_keeps_exactly_one_active_policy(policy):
    services.publish_policies()
    assert Policy.objects.filter(active=True).count() == 1


def test_receipt_names_policy_version_and_hash(user, policy):
    record = grant_all(user, policy)
    receipt = record.receipt()
    assert receipt["policy_version"] == policy.version
    assert receipt["policy_hash"] == policy.digest
    assert receipt["purposes"] == policy.purposes
