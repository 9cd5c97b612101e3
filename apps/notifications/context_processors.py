def inbox(request):
    """``unread_notifications`` for the header badge: counted only when a template shows it (one indexed query)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}

    def count() -> int:
        from apps.notifications.selectors import unread_count

        return unread_count(user)

    return {"unread_notifications": count}
