"""The desk's wiring: the sandbox talks to the embedded emulator in process, or, with
`sandbox_url`, to a standalone emulator over plain HTTP (what the browser tests use)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mca_core.auth.providers import SandboxTokenProvider
from mca_core.backends import SANDBOX_BASE_URL
from mca_core.config import Settings, load_settings
from mca_core.desk import Desk
from mca_core.domain.errors import ConfigurationError
from mca_core.emulator import Emulator, run_in_thread
from mca_core.usecases.attestation import attest_customer

STANDALONE_CUSTOMERS = 23  # not the embedded default, so a wrong wiring shows in the count


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    emulator = Emulator(tmp_path / "standalone", customers=STANDALONE_CUSTOMERS, seed=3)
    with run_in_thread(emulator) as url:
        yield url
    emulator.close()


def sandbox_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        backend="sandbox",
        data_dir=tmp_path / "desk",
        sandbox_customers=5,
        rate_limit_per_minute=60_000,
        **extra,
    )


def test_sandbox_url_is_read_from_the_environment(tmp_path):
    settings = load_settings(
        secrets={}, environ={"MCA_SANDBOX_URL": "http://127.0.0.1:9/", "MCA_BACKEND": "sandbox"}
    )
    assert settings.sandbox_url == "http://127.0.0.1:9/"
    desk = Desk(settings.model_copy(update={"data_dir": tmp_path}))
    assert desk.base_url == "http://127.0.0.1:9"
    assert desk.transport() is None


def test_standalone_sandbox_serves_the_desk_over_http(tmp_path, standalone):
    url = standalone
    desk = Desk(sandbox_settings(tmp_path, sandbox_url=url + "/"))
    actor = desk.sandbox_actor("admin-agent")
    assert isinstance(actor.tokens, SandboxTokenProvider)

    customers = desk.run(lambda pc: pc.list_customers(), actor)
    assert len(customers) == STANDALONE_CUSTOMERS
    result = desk.run(
        lambda pc: attest_customer(
            pc,
            desk.store,
            actor.identity,
            customer=customers[0].id,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            date_agreed="2025-11-20",
        ),
        actor,
    )
    assert result.outcome in ("attested", "already_attested")
    # The standalone emulator holds the attestation; no embedded emulator was ever created.
    again = Desk(sandbox_settings(tmp_path / "other", sandbox_url=url))
    stored = again.run(
        lambda pc: pc.get_attestations(customers[0].id), again.sandbox_actor("sales-agent")
    )
    assert any(a.primary_contact.email == "ada@example.com" for a in stored)
    assert not desk.settings.emulator_dir.exists()
    with pytest.raises(ConfigurationError, match="standalone emulator"):
        _ = desk.emulator


def test_embedded_sandbox_is_the_default(tmp_path):
    desk = Desk(sandbox_settings(tmp_path))
    assert desk.base_url == SANDBOX_BASE_URL
    customers = desk.run(lambda pc: pc.list_customers(), desk.sandbox_actor("admin-agent"))
    assert len(customers) == 5
    assert desk.settings.emulator_dir.exists()
