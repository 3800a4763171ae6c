"""The API's pagination: `?limit=&offset=`, with a cap so one request cannot ask for every row.

A deep offset reads every row before it. `DeferredJoin` makes those rows cheap: the page is
found over primary keys alone (an index-only scan when an index holds the filter, the ordering
and the key: `clip_alerts` for a customer's alerts), and only that page's rows are then read,
with their annotations and prefetches, by key (#13: `?offset=2000` of a customer's alerts
fetched 2,050 rows from the heap, and their verdict subqueries, to answer 50)."""

from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200  # ?limit=100000 answers 200 rows


class DeferredJoin:
    """A queryset seen by a paginator (DRF's or Django's, which call `count()` and slice): a
    slice `[start:stop]` reads the keys of those rows in the queryset's order, then the rows of
    those keys, and answers them in the keys' order. The queryset must be ordered, with a
    unique last key (e.g. `-recorded_at, -id`), or two pages may share or miss a row."""

    def __init__(self, queryset):
        self.queryset = queryset

    @property
    def ordered(self) -> bool:  # Django's Paginator warns about an unordered list
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("DeferredJoin answers slices, e.g. [offset:offset + limit]")
        # values_list: no select_related joins, no annotations but what the ordering names.
        keys = list(self.queryset.values_list("pk", flat=True)[index])
        if not keys:
            return []
        rows = {row.pk: row for row in self.queryset.order_by().filter(pk__in=keys)}
        return [rows[k] for k in keys if k in rows]  # one deleted in between: one fewer


class DeferredJoinLimitOffsetPagination(CappedLimitOffsetPagination):
    """The same `?limit=&offset=` and the same answer, a deep page for about the first's cost."""

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(DeferredJoin(queryset), request, view)
