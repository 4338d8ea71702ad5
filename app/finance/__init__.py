"""Finance staff: purchase orders and receipts today, the exception queue once holds exist."""
