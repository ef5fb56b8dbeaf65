"""Partner Center over HTTP: the client, its retry policy and rate limiter, and the wire
names of the enhanced flow (confirmed / assumed)."""
