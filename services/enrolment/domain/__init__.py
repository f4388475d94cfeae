"""Pure rules of the enrolment service: no I/O, no clock (the caller passes ``now``)."""
