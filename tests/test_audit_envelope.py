"""The audited envelope (`audit.attempt`): one row per attempt, whatever way it ends."""

from __future__ import annotations

import pytest

from mca_core.domain.errors import AccessRefused, InvalidInput, NotFound, Problem
from mca_core.domain.validation import check_may_attest
from mca_core.emulator import SANDBOX_USERS
from mca_core.store.database import Store
from mca_core.usecases import audit

ADMIN = SANDBOX_USERS["admin-agent"].identity()
RESELLER = SANDBOX_USERS["indirect-reseller"].identity()
ACTION = "attest"


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


def test_a_refusal_is_recorded_once_as_refused_and_raised(store):
    ran = False
    with (
        pytest.raises(AccessRefused),
        audit.attempt(
            store,
            RESELLER,
            ACTION,
            customer_id="contoso.com",
            inputs={"email": "a@contoso.com"},
            check=check_may_attest,
        ),
    ):
        ran = True  # never: the access rule runs before the body
    assert not ran
    [event] = store.audit()
    assert (event.action, event.outcome) == (ACTION, "refused")
    assert event.customer_id == "contoso.com"
    assert event.inputs == {"email": "a@contoso.com"}
    assert event.user_id == RESELLER.user_id
    assert event.detail.startswith("AccessRefused: ")


def test_an_error_after_an_update_is_recorded_with_the_updated_inputs(store):
    with (
        pytest.raises(InvalidInput),
        audit.attempt(
            store,
            ADMIN,
            ACTION,
            customer_id="contoso.com",
            inputs={"raw": "x"},
            check=check_may_attest,
        ) as attempt,
    ):
        attempt.customer_id = "tenant-1"
        attempt.inputs = {"email": "a@contoso.com"}
        raise InvalidInput(Problem("email", "Bad.", "Fix it."))
    [event] = store.audit()
    assert event.outcome == "invalid"
    assert event.customer_id == "tenant-1"
    assert event.inputs == {"email": "a@contoso.com"}
    assert event.detail == "InvalidInput: email: Bad. Fix it."


def test_a_service_error_keeps_its_request_ids(store):
    with pytest.raises(NotFound), audit.attempt(store, ADMIN, ACTION):
        raise NotFound("No such customer.", status=404, request_id="rid-1", correlation_id="c-1")
    [event] = store.audit()
    assert (event.outcome, event.request_id, event.correlation_id) == ("failed", "rid-1", "c-1")


async def test_a_success_records_one_row_with_its_request_id(store):
    async def call() -> str:
        return "rid-2"

    with audit.attempt(store, ADMIN, ACTION, inputs={"n": 1}, check=check_may_attest) as attempt:
        request_id = await call()  # the envelope works around awaits
        attempt.customer_id = "tenant-2"
        attempt.done("attested", detail="Done.", request_id=request_id, correlation_id="c-2")
    [event] = store.audit()
    assert (event.outcome, event.customer_id, event.inputs) == ("attested", "tenant-2", {"n": 1})
    assert (event.detail, event.request_id, event.correlation_id) == ("Done.", "rid-2", "c-2")


def test_a_body_that_neither_fails_nor_calls_done_records_nothing(store):
    with audit.attempt(store, ADMIN, ACTION, check=check_may_attest):
        pass
    assert store.audit() == []


def test_an_error_that_is_not_an_mca_error_is_not_recorded(store):
    with pytest.raises(RuntimeError), audit.attempt(store, ADMIN, ACTION) as attempt:
        attempt.done("attested")
        raise RuntimeError("a bug, not an attempt")
    assert store.audit() == []


def test_an_error_after_done_records_the_failure_not_the_success(store):
    with pytest.raises(InvalidInput), audit.attempt(store, ADMIN, ACTION) as attempt:
        attempt.done("attested")
        raise InvalidInput(Problem("email", "Bad.", "Fix it."))
    assert [e.outcome for e in store.audit()] == ["invalid"]


def test_a_row_recorded_now_is_the_only_row_of_the_attempt(store):
    with pytest.raises(NotFound), audit.attempt(store, ADMIN, ACTION, customer_id="t") as attempt:
        attempt.record_now("not_accepted", detail="Not yet.", request_id="rid-3")
        raise NotFound("kept", status=404)
    [event] = store.audit()
    assert (event.outcome, event.detail, event.request_id) == ("not_accepted", "Not yet.", "rid-3")


def test_without_a_store_nothing_is_recorded_and_errors_still_raise():
    with (
        pytest.raises(AccessRefused),
        audit.attempt(None, RESELLER, ACTION, check=check_may_attest),
    ):
        pass
    with audit.attempt(None, ADMIN, ACTION) as attempt:
        attempt.done("attested")
