"""What the tests share, one copy each, named for what it gives: the in-process zones and the
suite's keys (``cluster``), the mail sink (``mail``), the bus (``bus``), captured log lines
(``logs``), tokens (``tokens``), practice policies and passwords (``practices``), the simulated
enrolment of the second step (``factors``), the certificate fallback (``fallback``), the test
CA (``certificates``), a software passkey (``softkey``), enrolment with auth (``enrolment``),
auth, enrolment and certs of one zone (``services``) and what a producer on the bus can forge
(``forgery``), spoiled request bodies (``bodies``), the whole two-factor story (``story``), the
browser (``browser``), the SDK's zones (``sdk``), token signing in unit tests (``signing``) and
the local deployment of the fault tests (``deployment``). Fixtures stay in the conftest.py
files; test modules import from here, never from one another."""
