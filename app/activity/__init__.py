"""The audit trail of what residents did to utility accounts: linking, removing, bill delivery changes.

A layer below the features that write it (accounts, billing) and read it (accounts, staff), so that none
of them imports another to record an event.
"""
