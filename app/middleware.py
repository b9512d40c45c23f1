"""Security headers Django's SecurityMiddleware does not set (it has no CSP before Django 6.0)."""

from django.utils.cache import patch_vary_headers

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI injects styles and uses data: images; ReDoc shows the Redocly logo from its CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https://cdn.redoc.ly; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; worker-src 'self' blob:"
)
DOCS_PREFIXES = ("/swagger/", "/redoc/")


class SecurityHeadersMiddleware:
    """A Content-Security-Policy for API answers and for the docs pages, `Vary: Authorization`
    on API answers so no shared cache hands one caller's response to another, and an `Allow`
    header that lists only the methods really answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(DOCS_PREFIXES):
            response.setdefault("Content-Security-Policy", DOCS_CSP)
        elif request.path.startswith("/api/"):
            response.setdefault("Content-Security-Policy", API_CSP)
            patch_vary_headers(response, ("Authorization",))
            if response.has_header("Allow"):
                # OPTIONS is refused on API views (no self-description; CORS preflights are
                # answered before any view), so `Allow` must not offer it.
                allowed = [m.strip() for m in response["Allow"].split(",") if m.strip() != "OPTIONS"]
                response["Allow"] = ", ".join(allowed)
        return response
