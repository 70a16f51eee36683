"""Request handlers, one module per area of the back-office."""
