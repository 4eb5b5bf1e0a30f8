"""People: who someone is (identity), who may do what (roles), invites, staff roles, the
audit trail.
"""
