"""A faulty link on purpose (tinyrt/linkproxy.py), checked against a plain TCP echo server: it
relays, damages at its rates, repeats itself for a seed, moves to another target, stops by
itself. Inferences through it to a real emulated board: tests/test_link_board.py.
"""
import socket
import threading
import time

import pytest

from tinyrt.linkproxy import DOWN, UP, Faults, LinkProxy


class Echo:
    """A TCP server on 127.0.0.1 that sends back what it receives."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:   # the proxy hung up first
                pass

    def close(self):
        self.server.close()


@pytest.fixture
def echo():
    e = Echo()
    yield e
    e.close()


def roundtrip(proxy, data: bytes, settle: float = 0.3) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(data)
        s.settimeout(settle)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except socket.timeout:
            pass
    return got


DATA = bytes(range(256)) * 200   # 51,200 bytes


def test_without_faults_the_proxy_relays_every_byte_in_order(echo):
    with LinkProxy(echo.port) as proxy:
        assert roundtrip(proxy, DATA) == DATA


def test_bytes_are_damaged_at_about_the_set_rates_in_the_chosen_direction(echo):
    faults = Faults(corrupt=0.01, drop=0.002, duplicate=0.002, reorder=0.002, seed=3,
                    directions=(UP,))
    with LinkProxy(echo.port, faults) as proxy:
        got = roundtrip(proxy, DATA)
        counts = proxy.counts()
    up = counts[UP]
    assert up["bytes"] == len(DATA)
    assert 350 <= up["corrupted"] <= 700             # 1 % of 51,200 = 512
    for kind in ("dropped", "duplicated", "reordered"):
        assert 50 <= up[kind] <= 170, kind          # 0.2 % = 102
    assert len(got) == len(DATA) - up["dropped"] + up["duplicated"]
    assert counts[DOWN]["corrupted"] == 0           # the way back is clean


def test_the_same_seed_damages_the_same_byte_positions(echo):
    faults = Faults(corrupt=0.01, seed=11, directions=(UP,))
    runs = []
    for _ in range(2):
        with LinkProxy(echo.port, faults) as proxy:
            runs.append(roundtrip(proxy, DATA[:4000]))
    assert runs[0] == runs[1] != DATA[:4000]


def test_delays_hold_bytes_back_without_reordering_them(echo):
    with LinkProxy(echo.port, Faults(delay=1.0, max_delay=0.05, seed=2)) as proxy:
        assert roundtrip(proxy, DATA[:3000], settle=0.5) == DATA[:3000]
        assert proxy.counts()[UP]["delayed"] >= 1


def test_retarget_moves_the_relay_while_the_client_stays_connected(echo):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = unused.getsockname()[1]   # nothing listens there: a board that is down
    with LinkProxy(echo.port) as proxy, socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.settimeout(2)
        s.sendall(b"one")
        assert s.recv(16) == b"one"
        proxy.retarget(nobody)
        time.sleep(0.1)
        s.sendall(b"lost")   # bytes sent while no board listens are lost, not queued
        time.sleep(0.2)
        proxy.retarget(echo.port)
        time.sleep(0.1)
        s.sendall(b"two")
        assert s.recv(16) == b"two"
        assert proxy.counts()[UP]["lost_no_board"] == 4


def test_the_proxy_stops_by_itself_and_frees_its_port(echo):
    proxy = LinkProxy(echo.port, lifetime=0.2)
    time.sleep(0.6)
    assert not proxy.alive
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=0.5)


def test_rates_outside_0_to_1_are_a_user_error():
    from tinyrt.errors import TinyrtError
    with pytest.raises(TinyrtError, match="--corrupt 2.0 is not a rate between 0 and 1"):
        Faults(corrupt=2.0)


# --- a real emulated board behind the proxy ---------------------------------------------------
