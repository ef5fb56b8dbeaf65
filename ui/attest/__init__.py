"""The Attest page's four tabs, one module each: `existing` (an existing customer), `new_customer`
(create a customer, attest or let them accept), `bulk` (a CSV; on the enhanced channel `signers`,
a CSV of signers), `blocked` (the customers whose orders are blocked). The page builds one
`AttestContext` and hands it to each tab's `render`."""
