"""Tuning pages: per-camera thresholds and suppression rules."""

from django.urls import path

from reviewapp.tuning import views

urlpatterns = [
    path("thresholds/", views.threshold_list, name="thresholds"),
    path("thresholds/<slug:camera_name>/", views.threshold_camera, name="threshold-camera"),
    path("thresholds/<slug:camera_name>/apply/", views.threshold_apply, name="threshold-apply"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule-edit"),
]
