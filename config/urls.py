from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authtoken.views import ObtainAuthToken

from consent import api as consent_api
from consent.dashboard import compliance_dashboard
from portrait import api as portrait_api
from portrait import verify_views
from portrait import views as portrait_views
from portrait.ratelimit import ApiRateThrottle, LoginRateThrottle

api_v1 = [
    path(
        "auth/token/",
        ObtainAuthToken.as_view(throttle_classes=[ApiRateThrottle, LoginRateThrottle]),
        name="token",
    ),
    path("policy/", consent_api.PolicyView.as_view(), name="policy"),
    path("consents/", consent_api.ConsentGrant.as_view(), name="consent-grant"),
    path("consents/withdraw/", consent_api.ConsentWithdraw.as_view(), name="consent-withdraw"),
    path("selfie/", portrait_api.SelfieUpload.as_view(), name="selfie"),
    path("photos/", portrait_api.PhotoListCreate.as_view(), name="photos"),
    path("clones/", portrait_api.CloneCreate.as_view(), name="clones"),
    path("clones/refine/", portrait_api.CloneRefine.as_view(), name="clone-refine"),
    path("jobs/<uuid:pk>/", portrait_api.JobDetail.as_view(), name="job"),
    path("styles/", portrait_api.StyleList.as_view(), name="styles"),
    path("renders/", portrait_api.RenderCreate.as_view(), name="renders"),
    path("outputs/", portrait_api.OutputList.as_view(), name="outputs"),
    path(
        "outputs/<uuid:pk>/feedback/", portrait_api.OutputFeedback.as_view(), name="output-feedback"
    ),
    path(
        "outputs/<uuid:pk>/download/", portrait_api.OutputDownload.as_view(), name="output-download"
    ),
    path("verify/", verify_views.VerifyApi.as_view(), name="verify"),
    path("export/", portrait_api.DataExport.as_view(), name="export"),
    path(
        "erasure-requests/", consent_api.ErasureRequestListCreate.as_view(), name="erasure-requests"
    ),
    path(
        "erasure-requests/<uuid:pk>/",
        consent_api.ErasureRequestDetail.as_view(),
        name="erasure-request",
    ),
    path(
        "erasure-requests/<uuid:pk>/certificate/",
        consent_api.ErasureCertificate.as_view(),
        name="erasure-certificate",
    ),
]

urlpatterns = [
    path("", include("portrait.urls")),
    path("consent/", include("consent.urls")),
    path("accounts/login/", portrait_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", portrait_views.signup, name="signup"),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "admin/compliance/",
        admin.site.admin_view(compliance_dashboard),
        name="compliance-dashboard",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, which the Content Security Policy
    # (no inline script) needs.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "portrait.api_errors.not_found"
