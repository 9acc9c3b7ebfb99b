"""The shared redactor: secrets always, PII when asked, idempotent, through nested data."""

from __future__ import annotations

import pytest

from podium.policies import Redactor

SECRETS = {
    "openai_key": "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
    "aws_access_key": "AKIAIOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a" * 36,
    "slack_token": "xoxb-1234567890-abcdefghij",
    "google_api_key": "AIza" + "B" * 35,
    "bearer_token": "Bearer abc.def-ghi_jkl~mnopqrstu",
    "jwt": "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4",
}


@pytest.mark.parametrize(("kind", "secret"), SECRETS.items())
def test_secret_shapes_are_masked(kind: str, secret: str) -> None:
    text = f"config: {secret} end"
    redacted = Redactor(include_env=False).redact(text)
    assert secret not in redacted and f"[REDACTED:{kind}]" in redacted
    assert Redactor(include_env=False).redact(redacted) == redacted


def test_assigned_secrets_keep_their_name() -> None:
    redacted = Redactor(include_env=False).redact(
        'password = "hunter2hunter2" and api_key: abcd1234efgh'
    )
    assert (
        redacted
        == 'password = "[REDACTED:assigned_secret]" and api_key: [REDACTED:assigned_secret]'
    )


def test_secret_environment_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-looking-value-42")
    monkeypatch.setenv("HOME_DIRECTORY", "/root/not-a-secret")
    text = "token plain-looking-value-42 in /root/not-a-secret"
    assert Redactor().redact(text) == "token [REDACTED:env_secret] in /root/not-a-secret"


def test_pii_only_when_configured() -> None:
    text = "Write to maya.chen@brightforge.example or call +1 415 555 0134"
    assert Redactor(include_env=False).redact(text) == text
    redacted = Redactor(pii=frozenset({"email", "phone"}), include_env=False).redact(text)
    assert redacted == "Write to [REDACTED:email] or call [REDACTED:phone]"
    with pytest.raises(ValueError, match="unknown PII kind"):
        Redactor(pii=frozenset({"shoe_size"}))


def test_nested_data_is_redacted() -> None:
    data = {"a": ["sk-" + "x" * 30, {"b": "fine"}], "n": 3}
    assert Redactor(include_env=False).redact_data(data) == {
        "a": ["[REDACTED:openai_key]", {"b": "fine"}],
        "n": 3,
    }
