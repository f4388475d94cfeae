"""The logins this process opened at their second factor, as the call that opened them read
them back: a TOTP step that finds its login here checks the code and completes the login in
one round trip (guarded by what was seen, :mod:`services.auth.adapters.seen_steps`). Each is
handed out once; at most ``size`` are kept, the oldest forgotten first. Losing one costs only
a read: the step then reads its login itself."""

from __future__ import annotations

from collections import OrderedDict

from services.auth.adapters.repository import SecondStep


class OpenedLogins:
    def __init__(self, size: int) -> None:
        self._size = size
        self._steps: OrderedDict[str, SecondStep] = OrderedDict()

    def keep(self, step: SecondStep) -> None:
        if self._size <= 0:
            return
        self._steps[step.login_id] = step
        while len(self._steps) > self._size:
            self._steps.popitem(last=False)

    def take(self, login_id: str) -> SecondStep | None:
        return self._steps.pop(login_id, None)

    def __len__(self) -> int:
        return len(self._steps)
