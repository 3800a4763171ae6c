"""The API's pagination: `?limit=&offset=`, with a cap so one request cannot ask for every row."""

from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200  # ?limit=100000 answers 200 rows
