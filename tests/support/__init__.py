"""Real servers and exporters the tests run against (loopback only)."""
