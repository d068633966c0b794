"""Starts a real `inferd serve` process for the server tests and stops it.

The server binds port 0 (any free port on 127.0.0.1) and prints the port it got;
we read it from stderr, then wait for /health to say 200.
"""
import os
import re
import signal
import subprocess
import threading
import time

import requests


class Server:
    def __init__(self, inferd_bin, model, *extra, env=None, ready_timeout=120):
        self.log = []
        cmd = [str(inferd_bin), "serve", "-m", str(model), "--port", "0", *map(str, extra)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})})
        self.port = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.time() + ready_timeout
        while self.port is None:
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("inferd serve did not start:\n" + "".join(self.log))
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"
        while True:
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("inferd serve never became ready:\n" + "".join(self.log))
            time.sleep(0.1)

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"listening on http://[\d.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))

    def model_id(self):
        return requests.get(self.url + "/v1/models", timeout=10).json()["data"][0]["id"]

    def metrics(self):
        """Parsed /metrics: {name_with_labels: value}."""
        out = {}
        for line in requests.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def metric(self, name):
        """Sum of a metric over its label sets."""
        return sum(v for k, v in self.metrics().items() if k == name or k.startswith(name + "{"))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
