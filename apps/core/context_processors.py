def portal(request):
    """Navigation flags for base.html."""
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    return {
        "is_platform_admin": authenticated and user.is_platform_admin,
        "is_auditor": authenticated and user.can_audit,
    }
