"""Under /labeling/: the sync's endpoints (Label Studio webhook, media links, status) and the export page."""

from django.urls import include, path

urlpatterns = [
    path("", include("labeling.sync.urls")),
    path("", include("labeling.export.urls")),
]
