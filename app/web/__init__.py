"""Litestar controllers, one module per area: they parse input, call one action, render."""
