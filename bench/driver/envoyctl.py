"""Envoy for the benchmark: bootstrap rendering, start/stop pinned to CPUs, /stats, CPU time.

Configs are rendered from envoy/bench/bench.yaml.tmpl by plain string replacement: the
@ACCESS_LOG@ slot takes either the native JSON access log (access-log.yaml.part) or Vigil's
three filter-state loggers (access-log-sink.yaml.part, one per record slot), the
@VARIANT_FILTERS@ slot a wasm filter (wasm-filter.yaml.part) or nothing.
"""
import glob
import json
import os
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.join(ROOT, "envoy", "bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SINK_SLOTS = 3


def envoy_binary():
    """The Envoy binary itself (not the venv's Python launcher), so its pid is Envoy's."""
    found = sorted(glob.glob(os.path.join(ROOT, ".venv/lib/python3*/site-packages/envoy/_bin/envoy")))
    return found[0] if found else os.path.join(ROOT, ".venv", "bin", "envoy")


def _part(name):
    with open(os.path.join(BENCH_DIR, name), encoding="utf-8") as f:
        return f.read().rstrip("\n")


def access_log_sink(path="/dev/null"):
    """The HCM `access_log:` block for Vigil's access_log sink: one filtered logger per slot."""
    part = _part("access-log-sink.yaml.part")
    loggers = [part.replace("@SLOT@", str(i)).replace("@SINK_PATH@", path.replace("@SLOT@", str(i)))
               for i in range(SINK_SLOTS)]
    return "          access_log:\n" + "\n".join(loggers)


def wasm_filter(wasm_path, configuration):
    """The wasm filter block; `configuration` is the plugin configuration string."""
    return (_part("wasm-filter.yaml.part").replace("@WASM_PATH@", wasm_path)
            .replace("@POLICY_JSON@", json.dumps(configuration)))


def module_filter(configuration, name="vigil_envoy_module"):
    """The dynamic-module filter block (Vigil's native build, or `name`: lib<name>.so); Envoy
    finds the .so through ENVOY_DYNAMIC_MODULES_SEARCH_PATH, which the driver sets."""
    part = _part("module-filter.yaml.part").replace("@POLICY_JSON@", json.dumps(configuration))
    return part.replace("name: vigil_envoy_module", f"name: {name}")


def module_access_log_sink(path="/dev/null"):
    """access_log_sink for the module, whose filter-state keys are `vigil.event.<i>` (the wasm
    build's carry proxy-wasm's `wasm.` prefix)."""
    return access_log_sink(path).replace("wasm.vigil.event.", "vigil.event.")


def render(out_path, listen_port, admin_port, access_log="", filters=""):
    """Writes one bootstrap."""
    text = (_part("bench.yaml.tmpl").replace("@LISTEN_PORT@", str(listen_port))
            .replace("@ADMIN_PORT@", str(admin_port)).replace("@ACCESS_LOG@", access_log)
            .replace("@VARIANT_FILTERS@", filters))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return out_path


# The priority prefix of every benchmark process (Envoy, wrk, vigil-loadgen), set per phase
# by the driver (--priority): e.g. ["nice", "-n", "-10"] or ["chrt", "-f", "10"].
PREFIX = []


def nice_prefix():
    return list(PREFIX)


def taskset(cpus):
    """The priority prefix and `taskset -c CPUS` (not on a machine too small to pin)."""
    if cpus is None or (os.cpu_count() or 1) < 2:
        return nice_prefix()
    return nice_prefix() + ["taskset", "-c", cpus]


class Envoy:
    """One Envoy process: `start()`, `stats()`, `cpu_seconds()`, `stop()`."""

    def __init__(self, config, admin_port, log_file, concurrency=1, cpus="0", wasm_level="info",
                 log_path="/dev/null"):
        self.config, self.admin_port, self.log_file = config, admin_port, log_file
        self.concurrency, self.cpus = concurrency, cpus
        self.wasm_level, self.log_path = wasm_level, log_path
        self.proc = None

    def start(self, timeout=20.0):
        """Starts Envoy and waits until /ready; returns None, or the reason it did not start."""
        cmd = taskset(self.cpus) + [
            envoy_binary(), "-c", self.config, "--concurrency", str(self.concurrency),
            "--disable-hot-restart", "-l", "warning", "--component-log-level",
            f"wasm:{self.wasm_level},dynamic_modules:{self.wasm_level}", "--log-format", "%v", "--log-path", self.log_path]
        out = open(self.log_file, "w", encoding="utf-8")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return self._tail(f"Envoy exited with status {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self._url("/ready"), timeout=1) as r:
                    if r.status == 200:
                        return None
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        return self._tail("Envoy not ready in time")

    def _tail(self, why):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                lines = [l.rstrip() for l in f if l.strip()]
        except OSError:
            lines = []
        return why + (": " + " | ".join(lines[-4:]) if lines else "")

    def _url(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def stats(self):
        """Every integer counter and gauge on /stats, by name."""
        with urllib.request.urlopen(self._url("/stats"), timeout=5) as r:
            text = r.read().decode("utf-8", "replace")
        out = {}
        for line in text.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def cpu_seconds(self):
        """User + system CPU time of the whole Envoy process (all threads), in seconds."""
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def busy_seconds():
    """CPU time the whole machine spent busy (all CPUs, not idle or iowait), in seconds."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def steal_sample():
    """(steal jiffies, total jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    values = [int(x) for x in fields[1:]]
    return values[7], sum(values)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}"
