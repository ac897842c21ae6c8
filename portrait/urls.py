from django.urls import path

from . import verify_views, views

app_name = "portrait"

urlpatterns = [
    path("", views.home, name="home"),
    path("photos/", views.photos, name="photos"),
    path("photos/upload/", views.upload_photo, name="upload_photo"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("clone/", views.clone_status, name="clone"),
    path("clone/start/", views.start_clone, name="start_clone"),
    path("clone/refine/", views.refine_clone, name="refine_clone"),
    path("styles/", views.style_picker, name="styles"),
    path("gallery/", views.gallery, name="gallery"),
    path("outputs/<uuid:output_id>/image/", views.output_file, name="output_image"),
    path(
        "outputs/<uuid:output_id>/download/",
        views.output_file,
        {"download": True},
        name="output_download",
    ),
    path("outputs/<uuid:output_id>/feedback/", views.output_feedback, name="output_feedback"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/export/", views.export_data, name="export"),
    path("verify/", verify_views.verify_page, name="verify"),
]
