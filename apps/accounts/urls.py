from django.urls import include, path

from apps.accounts import views

account_patterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("lockouts/", views.lockouts, name="lockouts"),
]

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("oidc/authenticate/", views.OIDCStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", views.OIDCCallbackView.as_view(), name="oidc_authentication_callback"),
    path("account/", include((account_patterns, "accounts"))),
]
