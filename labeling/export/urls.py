from django.urls import path

from labeling.export import views

urlpatterns = [
    path("exports/new/", views.export_new, name="labeling-export-new"),
]
