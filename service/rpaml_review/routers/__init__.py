"""The review app's routers, one per resource: the login session, the queue, the items,
the admin pages."""
