"""The site's URLs: each feature brings its own (reviewapp.review, .tuning, .monitoring, labeling)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reviewapp.review import urls as review_urls

api_v1 = [
    *review_urls.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
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
