from django.urls import path

from reviewapp.monitoring import views

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
    path("analysis/", views.error_analysis, name="analysis"),
    path("analysis/clips/", views.error_analysis_clips, name="analysis-clips"),
    path("drift/", views.drift_page, name="drift"),
    path("drift/<slug:camera_name>/audit/", views.drift_audit, name="drift-audit"),
]
