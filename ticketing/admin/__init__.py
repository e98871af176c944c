"""The staff admin: events and ticket types, the sale's records (requests, orders, tickets, audit), the door.

Events' admin lives here, not in the events app, because saving one goes through ticketing's
rules (capacity changes are audited; deleting what holds sales is refused).
"""

from ticketing.admin import door, events, sales, staff  # noqa: F401 (registers the model admins)
