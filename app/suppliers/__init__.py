"""What a supplier (or partner) sees of its own organization: POs, team."""
