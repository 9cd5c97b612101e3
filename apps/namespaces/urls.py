app_name = "namespaces"

urlpatterns = []
