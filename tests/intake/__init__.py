"""Intake: the partner API, the normalize job, the sweeper and the supplier pages."""
