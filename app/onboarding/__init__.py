"""Organizations (buyer, suppliers, partners) and how they become trusted."""
