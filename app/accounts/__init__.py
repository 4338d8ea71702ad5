"""People: users, their memberships and roles, sign-in and sessions."""
