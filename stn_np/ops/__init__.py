"""Differentiable ops, grouped in small families; each op is one ``Function`` subclass."""
