"""The site's URLs: each feature brings its own (reviewapp.review, .tuning, .monitoring, labeling)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotAuthenticated

from reviewapp.core import throttling
from reviewapp.review import urls as review_urls


class DocsView(SpectacularSwaggerView):
    """The API's docs page, for logged-in users (SPECTACULAR_SETTINGS' SERVE_PERMISSIONS): a
    page, so an anonymous visitor goes to the login page; the schema itself answers 401."""

    def handle_exception(self, exc):
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


api_v1 = [
    *review_urls.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("login/", throttling.LoginView.as_view(), name="login"),  # failed logins are rate limited
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("reviewapp.review.urls")),
    path("", include("reviewapp.tuning.urls")),
    path("", include("reviewapp.monitoring.urls")),  # /metrics, /analysis/, /drift/
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("labeling/", include("labeling.urls")),
]

handler404 = "reviewapp.core.errors.handler404"
handler500 = "reviewapp.core.errors.handler500"
