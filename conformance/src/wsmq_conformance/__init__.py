"""Conformance suite for wsmq/1 servers."""
