"""The tenant: organizations, their members and roles, and partner-supplier connections.

Every other package stands on this one; it imports none of them, so the tenant scope can be
read anywhere without pulling a capability along.
"""
