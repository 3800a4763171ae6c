"""Review: the queue, clips, customers' alerts (pages), and the API under /api/v1/."""

from django.urls import path

from reviewapp.review import api, history, media, views

urlpatterns = [
    path("", views.home, name="home"),
    path("review/", views.review, name="review"),
    path("review/<int:item_id>/decide/", views.review_decide, name="review-decide"),
    path("review/history/", history.review_history, name="review-history"),
    path("clips/<str:clip_id>/", views.clip_page, name="clip"),
    path("clips/<str:clip_id>/play/", media.clip_play, name="clip-play"),
    path("clips/<str:clip_id>/video/", media.clip_original, name="clip-video"),
    path("clips/<str:clip_id>/frames/<int:frame_index>.jpg", media.clip_frame, name="clip-frame"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<str:clip_id>/", views.alert_page, name="alert"),
    path("alerts/<str:clip_id>/report/", views.alert_report, name="alert-report"),
]

api_urlpatterns = [
    path("clips/", api.ClipUploadView.as_view(), name="api-clip-upload"),
    path("clips/<str:clip_id>/", api.ClipDetailView.as_view(), name="api-clip"),
    path("clips/<str:clip_id>/false-alert/", api.FalseAlertView.as_view(), name="api-false-alert"),
    path("alerts/", api.AlertListView.as_view(), name="api-alerts"),
    path("review/next/", api.ReviewNextView.as_view(), name="api-review-next"),
    path("review/<int:item_id>/decision/", api.ReviewDecisionView.as_view(), name="api-review-decision"),
]
