"""One module per user action (attest, create a customer, bulk, verify, sync, invite,
enhanced create/finalise, reports), each audited. Never imports ui, cli or the emulator."""
