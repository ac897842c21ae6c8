from django.urls import path

from . import views

app_name = "portrait"

urlpatterns = [
    path("", views.home, name="home"),
    path("photos/", views.photos, name="photos"),
    path("clone/", views.clone_status, name="clone"),
    path("clone/start/", views.start_clone, name="start_clone"),
    path("styles/", views.style_picker, name="styles"),
    path("gallery/", views.gallery, name="gallery"),
    path("outputs/<uuid:output_id>/image/", views.output_file, name="output_image"),
    path("outputs/<uuid:output_id>/download/", views.output_file, {"download": True},
         name="output_download"),
    path("my-data/", views.my_data, name="my_data"),
]
