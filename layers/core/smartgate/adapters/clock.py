from datetime import datetime

from smartgate.schemas import utc_now


class SystemClock:
    def now(self) -> datetime:
        return utc_now()
