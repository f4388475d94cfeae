"""Fault tests: every service of both zones as real OS processes, faults made for real."""
