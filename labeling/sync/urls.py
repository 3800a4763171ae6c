from django.urls import path

from labeling.sync import views

urlpatterns = [
    path("label-studio/webhook/", views.label_studio_webhook, name="labeling-ls-webhook"),
    path("media/<str:token>/", views.media, name="labeling-media"),
    path("sync/status/", views.sync_status, name="labeling-sync-status"),
]
