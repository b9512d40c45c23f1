"""Rate limits. Counters live in the shared cache, keyed as DRF does (NUM_PROXIES decides the IP)."""

from rest_framework.throttling import SimpleRateThrottle


class AuthRateThrottle(SimpleRateThrottle):
    """`THROTTLE_AUTH` per client IP on login, register, refresh and password change (brute force)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
