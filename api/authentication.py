"""API key authentication: `Authorization: Bearer fp_...` or `X-Api-Key: fp_...`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from api.models import ApiKey
from api.selectors import api_key_for_plaintext
from api.services import api_key_mark_used


class ApiKeyPrincipal:
    """request.user for API calls: the key acts for its organization, not for a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: ApiKey):
        self.api_key = key
        self.organization = key.organization

    def __str__(self):
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def _plaintext(self, request) -> str | None:
        header = get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) != 2:
                raise AuthenticationFailed("Malformed Authorization header: use 'Bearer <key>'.")
            raw = header[1]
        else:
            raw = request.META.get("HTTP_X_API_KEY", "").strip().encode()
            if not raw:
                return None  # no key at all (or another scheme): NotAuthenticated follows
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.") from None

    def authenticate(self, request):
        plaintext = self._plaintext(request)
        if plaintext is None:
            return None
        key = api_key_for_plaintext(plaintext)
        if key is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(key=key)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Paste your whole API key: `fp_<prefix>_<secret>`, e.g. "
            "`fp_3f9a1c2e_q8Hn2kV0...`. Keys are created in the organizer admin under "
            "API keys → Add (`/admin/api/apikey/add/`) and shown once. Sent as "
            "`Authorization: Bearer <key>`.",
        }
