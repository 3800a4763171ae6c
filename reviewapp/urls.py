from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reviewapp import views, views_tuning
from reviewapp.api import views as api

api_v1 = [
    path("clips/", api.ClipUploadView.as_view(), name="api-clip-upload"),
    path("clips/<str:clip_id>/", api.ClipDetailView.as_view(), name="api-clip"),
    path("clips/<str:clip_id>/false-alert/", api.FalseAlertView.as_view(), name="api-false-alert"),
    path("alerts/", api.AlertListView.as_view(), name="api-alerts"),
    path("review/next/", api.ReviewNextView.as_view(), name="api-review-next"),
    path("review/<int:item_id>/decision/", api.ReviewDecisionView.as_view(), name="api-review-decision"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("review/", views.review, name="review"),
    path("review/<int:item_id>/decide/", views.review_decide, name="review-decide"),
    path("review/history/", views.review_history, name="review-history"),
    path("clips/<str:clip_id>/", views.clip_page, name="clip"),
    path("clips/<str:clip_id>/video/", views.clip_video, name="clip-video"),
    path("clips/<str:clip_id>/frames/<int:frame_index>.jpg", views.clip_frame, name="clip-frame"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<str:clip_id>/", views.alert_page, name="alert"),
    path("alerts/<str:clip_id>/report/", views.alert_report, name="alert-report"),
    path("thresholds/", views_tuning.threshold_list, name="thresholds"),
    path("thresholds/<slug:camera_name>/", views_tuning.threshold_camera, name="threshold-camera"),
    path("thresholds/<slug:camera_name>/apply/", views_tuning.threshold_apply, name="threshold-apply"),
    path("rules/", views_tuning.rule_list, name="rules"),
    path("rules/<int:rule_id>/", views_tuning.rule_edit, name="rule-edit"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("labeling/", include("labeling.urls")),
    path("", include("reviewapp.monitoring_urls")),  # /metrics, /analysis/, /drift/
]

handler404 = "reviewapp.errors.handler404"
handler500 = "reviewapp.errors.handler500"
