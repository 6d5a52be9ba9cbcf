"""A TCP relay between the bot and Synapse that can stall, for crash drills with real processes.

    relay = Relay(upstream_port); relay.start()   # forwards 127.0.0.1:relay.port → 127.0.0.1:upstream_port
    relay.mode = "hold"     # requests are accepted but not forwarded: the sender waits
    relay.mode = "mute"     # requests are forwarded, answers are swallowed: the server acts, the sender waits
    relay.mode = "pass"     # normal
"""
import socket
import threading


class Relay:
    def __init__(self, upstream_port, host="127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self.mode = "pass"
        self.forwarded = 0  # requests' first bytes that reached the server
        self._stop = threading.Event()

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def close(self):
        self._stop.set()
        self.listener.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pump, args=(client, server, "request"), daemon=True).start()
        self._pump(server, client, "answer")

    def _pump(self, source, sink, direction):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while direction == "request" and self.mode == "hold" and not self._stop.is_set():
                    self._stop.wait(0.05)
                if direction == "request":
                    self.forwarded += 1
                if direction == "answer" and self.mode == "mute":
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
