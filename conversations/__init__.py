"""The applicant conversation: a pure `transitions` state machine, events in, replies out.

No Telegram, no HTTP, no SQL and no clock reads here. The bot adapter turns an update into an
`events` value, calls `flow.handle` with a `flow.Snapshot` of the stored state, applies the
returned `effects` in its unit of work, then renders the `replies` in the applicant's locale.
"""
