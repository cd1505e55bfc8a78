"""The project's DRF content negotiation (apart from `common.api` for the same reason as
`common.parsers`: DRF reads this setting while it builds `APIView`)."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that an unknown `?format=` is 406 Not Acceptable, like an
    Accept header no renderer satisfies (DRF answers it with a bare 404, which reads as
    "no such row")."""

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise exceptions.NotAcceptable(available_renderers=renderers)
        return matching
