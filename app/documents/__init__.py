"""The spine of the pipeline: the document, its states and the one transition() that changes
them, its timeline, the outbox of work owed to it and the sweeper that re-sends lost work, and
the read queries scoped to an organization. Every stage imports this package; it imports none.
"""
