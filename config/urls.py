from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from consent import api as consent_api
from portrait import api as portrait_api
from portrait import views as portrait_views

api_v1 = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("policy/", consent_api.PolicyView.as_view(), name="policy"),
    path("consents/", consent_api.ConsentGrant.as_view(), name="consent-grant"),
    path("consents/withdraw/", consent_api.ConsentWithdraw.as_view(), name="consent-withdraw"),
    path("selfie/", portrait_api.SelfieUpload.as_view(), name="selfie"),
    path("photos/", portrait_api.PhotoListCreate.as_view(), name="photos"),
    path("clones/", portrait_api.CloneCreate.as_view(), name="clones"),
    path("jobs/<uuid:pk>/", portrait_api.JobDetail.as_view(), name="job"),
    path("styles/", portrait_api.StyleList.as_view(), name="styles"),
    path("renders/", portrait_api.RenderCreate.as_view(), name="renders"),
    path("outputs/", portrait_api.OutputList.as_view(), name="outputs"),
    path("outputs/<uuid:pk>/download/", portrait_api.OutputDownload.as_view(),
         name="output-download"),
]

urlpatterns = [
    path("", include("portrait.urls")),
    path("consent/", include("consent.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", portrait_views.signup, name="signup"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
