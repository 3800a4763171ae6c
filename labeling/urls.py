from django.urls import path

from labeling import exports_views, views

urlpatterns = [
    path("label-studio/webhook/", views.label_studio_webhook, name="labeling-ls-webhook"),
    path("media/<str:token>/", views.media, name="labeling-media"),
    path("sync/status/", views.sync_status, name="labeling-sync-status"),
    path("exports/new/", exports_views.export_new, name="labeling-export-new"),
]
