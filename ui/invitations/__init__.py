"""The Invitations page's generators, one module each: `provider` (a request to my indirect
provider), `invite` (the MCA invitation) and `reseller` (the reseller relationship request).
`shared` holds what they share (the customer picker and its reset rules, the warnings, the
editor and the hand-off, generate); `arrival` runs on every page run before the tabs. The page
builds one `InvitationsContext` and hands it to each generator's `render`."""
