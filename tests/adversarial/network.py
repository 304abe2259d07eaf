"""answer() connects to 1.1.1.1: it must fail (no network in the sandbox)."""
import socket


def answer():
    s = socket.create_connection(("1.1.1.1", 80), timeout=2)
    s.close()
    return "connected to 1.1.1.1"


def add(a, b):
    return a + b


def total(x):
    return float(x.sum())
