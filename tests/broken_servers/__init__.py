"""Deliberately broken wsmq/1 servers the conformance suite must catch (see wsmq_mini)."""

__all__: list[str] = []
