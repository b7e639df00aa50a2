"""A throwaway SSH host for the cluster launcher test (tests/test_cluster.py).

:class:`Node` runs ``sshd`` as root on 127.0.0.1:22 inside new PID, mount and network
namespaces.  Ray's cluster launcher, pointed at it, works as against any SSH host, while what the
cluster starts stays inside:

- **its own network** (a loopback interface only): the configs' fixed ports 22, 6379 and 5000
  are free whatever else runs on this machine (other tests' Ray, other people's servers);
- **its own process table**: the configs' ``ray stop`` sees only the cluster's processes, and
  killing the namespace's init process ends everything that is left;
- **its own home and temp folder** under the test's folder: inside, this user's home in
  ``/etc/passwd`` is the test's ``home`` folder (so sshd logs in there and ``~`` means it, for
  the remote shell, rsync and every relative path a sweep writes), and the sshd config sets
  ``TMPDIR``: the node's ``~/sertext``, ``~/sertext-venv``, ``~/mlflow``, ``~/reports``,
  ``~/ray_results`` and Ray's session files never touch the real ones;
- **its own copies of system folders** given as ``private`` (e.g. where the distribution keeps
  its PostgreSQL clusters: ``POSTGRES_FOLDERS`` in tests/postgres.py): empty folders under the
  test's folder, with the owner and mode of the real ones, mounted over them inside, so what the
  node creates there (a database cluster) is its own and this machine's stays as it was.

The client side (``ray up``, ``ray submit``, ``ray down``) runs inside the namespaces too
(:meth:`Node.run`), with Ray's SSH control sockets in a private folder (so it can never reuse a
connection to a real host); give it ``RAY_TMPDIR`` and ``TMPDIR`` (:attr:`Node.client_tmp`) for
Ray's local-provider state and temporary files.

The namespace reaches nothing outside but the package index: pip on the node uses an HTTP CONNECT
proxy (``PIP_PROXY``) that relays, over a Unix socket in the test folder, to a proxy thread in the
test process, which connects out (through this machine's own HTTPS proxy if it has one).  Pip on
the node is configured as on this machine (the same pip.conf files; the ``PIP_*`` variables of
the test's environment are passed on), and its cache is the invoking user's own, so a second run
reuses what the first downloaded.

Run as a script (``python cluster_node.py init FOLDER``), this file is the namespace's init.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

PROXY_PORT = 3128
SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
               "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]


def missing_tools() -> list[str]:
    """What this machine lacks to run a :class:`Node` (empty: nothing)."""
    missing = [tool for tool in ("unshare", "nsenter", "ssh", "ssh-keygen", "rsync", "mount") if not shutil.which(tool)]
    if not Path("/usr/sbin/sshd").is_file():
        missing.append("/usr/sbin/sshd (openssh-server)")
    if os.geteuid() != 0:
        missing.append("root (namespaces, mounts and sshd as root)")
    return missing


def ray_ssh_control_dir() -> str:
    """The folder where Ray's launcher keeps its SSH control sockets (command_runner.py)."""
    return f"/tmp/ray_ssh_{hashlib.sha256(getpass.getuser().encode()).hexdigest()[:10]}"


def user_pip_cache() -> str:
    """The invoking user's pip cache (the test session's HOME is a temporary folder)."""
    if os.environ.get("PIP_CACHE_DIR"):
        return os.environ["PIP_CACHE_DIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".cache")
    return os.path.join(cache, "pip")


class Node:
    """An SSH host in its own namespaces, its files under ``folder``; use as a context manager."""

    def __init__(self, folder: Path, private: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.private = tuple(private)
        self.home = self.folder / "home"
        self.tmp = self.folder / "tmp"
        self.key = self.folder / "client" / "id_ed25519"
        self.client_tmp = self.folder / "client" / "tmp"
        self.socket = self.folder / "proxy.sock"
        self.log = self.folder / "init.log"
        self.process: subprocess.Popen | None = None
        self.init_pid: int | None = None
        self._proxy: _ConnectProxy | None = None
        self._made_control_dir = False

    # --- life cycle -------------------------------------------------------------------------------
    def __enter__(self) -> Node:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        sshd_dir = self.folder / "sshd"
        for folder in (self.home, self.tmp, self.client_tmp, sshd_dir, self.folder / "client" / "ssh-control"):
            folder.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket)) > 100:
            raise RuntimeError(f"{self.socket}: too long a path for a Unix socket")
        for key in (sshd_dir / "host_ed25519", self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        (sshd_dir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        env = {k: v for k, v in os.environ.items() if k.startswith("PIP_") and _plain(v)}
        env.update(TMPDIR=self.tmp, PIP_PROXY=f"http://127.0.0.1:{PROXY_PORT}", PIP_CACHE_DIR=user_pip_cache())
        (sshd_dir / "sshd_config").write_text("\n".join([
            "Port 22", "ListenAddress 127.0.0.1",
            f"HostKey {sshd_dir / 'host_ed25519'}", f"PidFile {sshd_dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {sshd_dir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "PrintMotd no", "PrintLastLog no", "MaxStartups 100", "MaxSessions 100",
            "SetEnv " + " ".join(f'"{k}={v}"' for k, v in env.items()), ""]))
        (self.folder / "hosts").write_text(f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n")
        (self.folder / "passwd").write_text("".join(_with_home(line, os.getuid(), self.home)
                                                    for line in Path("/etc/passwd").read_text().splitlines(True)))
        self._made_control_dir = not os.path.exists(ray_ssh_control_dir())
        (self.folder / "init.json").write_text(json.dumps({
            "sshd_config": str(sshd_dir / "sshd_config"), "ready": str(self.folder / "ready"),
            "hosts": str(self.folder / "hosts"), "passwd": str(self.folder / "passwd"), "socket": str(self.socket),
            "control_dir": ray_ssh_control_dir(), "private_control_dir": str(self.folder / "client" / "ssh-control"),
            "private": self._private_folders(),
        }))
        self._proxy = _ConnectProxy(str(self.socket), _ConnectHandler)
        threading.Thread(target=self._proxy.serve_forever, daemon=True).start()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--", sys.executable, __file__, "init",
                 str(self.folder)], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self.folder / "ready").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SSH node did not start; {self.log}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        self.init_pid = _child_of(self.process.pid)

    def _private_folders(self) -> list[tuple[str, str]]:
        """``(own folder, system folder)`` for each of ``private``, the own one made empty with the
        system one's owner and mode."""
        pairs = []
        for target in self.private:
            info = os.stat(target)  # a missing one is an error: the mount would have no place
            source = self.folder / "private" / target.strip("/").replace("/", "_")
            source.mkdir(parents=True)
            os.chown(source, info.st_uid, info.st_gid)
            source.chmod(info.st_mode & 0o7777)
            pairs.append((str(source), target))
        return pairs

    def stop(self) -> None:
        """Kill the namespace's init, and with it every process inside; stop the proxy."""
        if self.init_pid is not None and self.process is not None and self.process.poll() is None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        self.socket.unlink(missing_ok=True)
        if self._made_control_dir:  # the mount point this node made for Ray's control sockets
            try:
                os.rmdir(ray_ssh_control_dir())
            except OSError:
                pass
            self._made_control_dir = False

    # --- inside ----------------------------------------------------------------------------------
    def command(self, args: list[str], *, cwd: str | Path = "/", namespaces: tuple = ("--pid", "--mount", "--net")
                ) -> list[str]:
        """``args`` as a command that runs inside the node's namespaces."""
        return ["nsenter", "--target", str(self.init_pid), *namespaces, f"--wd={cwd}", "--", *map(str, args)]

    def run(self, args: list[str], *, cwd: str | Path = "/", env: dict | None = None, timeout: float = 600,
            log: Path | None = None, namespaces: tuple = ("--pid", "--mount", "--net")) -> subprocess.CompletedProcess:
        """Run ``args`` inside the namespaces (output to ``log`` if given, else captured)."""
        command = self.command(args, cwd=cwd, namespaces=namespaces)
        if log is None:
            return subprocess.run(command, env=env, timeout=timeout, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL)
        with open(log, "ab") as out:
            return subprocess.run(command, env=env, timeout=timeout, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    def processes(self) -> dict[int, str]:
        """The processes inside the node (pid on this machine → command line)."""
        own = os.readlink(f"/proc/{self.init_pid}/ns/pid")
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns" / "pid") != own:
                    continue
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
        return found

    def listening_ports(self) -> set[int]:
        """TCP ports something listens on in the node's network."""
        return {port for _, port in self.listening_sockets()}

    def listening_sockets(self) -> set[tuple[str, int]]:
        """``(address, port)`` of each TCP socket listening in the node's network."""
        found = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{self.init_pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    address, port = fields[1].rsplit(":", 1)
                    found.add((_address(address), int(port, 16)))
        return found

    def ssh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a shell command on the node over SSH, as Ray does."""
        return self.run(["ssh", *SSH_OPTIONS, "-i", self.key, "root@127.0.0.1", command], timeout=timeout)


def _plain(value: str) -> bool:
    """``value`` can go into an sshd_config ``SetEnv`` as ``"NAME=value"``."""
    return value.isprintable() and '"' not in value


def _with_home(line: str, uid: int, home: Path) -> str:
    """A line of /etc/passwd, with ``home`` as the home folder if it is the entry of ``uid``."""
    fields = line.rstrip("\n").split(":")
    if len(fields) == 7 and fields[2] == str(uid):
        fields[5] = str(home)
        return ":".join(fields) + "\n"
    return line


def _address(hex_address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (32-bit words in host order) → its usual form."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words)


def _child_of(pid: int) -> int:
    """The one child of ``pid`` (the namespace's init, as this machine numbers it)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one child of unshare ({pid}), found {children}")
    return int(children[0])


# --- the proxy: pip on the node → 127.0.0.1:3128 in the namespace → Unix socket → out ------------
def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways between two connected sockets until both sides are done."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    back = threading.Thread(target=copy, args=(b, a), daemon=True)
    back.start()
    copy(a, b)
    back.join()
    a.close()
    b.close()


class _ConnectProxy(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _ConnectHandler(socketserver.BaseRequestHandler):
    """``CONNECT host:port`` → a tunnel to that host, directly or through this machine's HTTPS
    proxy (nothing else is served: pip reaches package indexes over HTTPS)."""

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk or len(head) > 65536:
                return
            head += chunk
        words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        host, _, port = words[1].rpartition(":") if len(words) > 1 else ("", "", "")
        if words[0] != "CONNECT" or not host or not port.isdigit():
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        proxy = urllib.parse.urlsplit(urllib.request.getproxies().get("https", ""))
        try:
            if proxy.hostname and not urllib.request.proxy_bypass(host):
                upstream = socket.create_connection((proxy.hostname, proxy.port or 80), timeout=30)
                upstream.sendall(head)  # that proxy answers the CONNECT itself
            else:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upstream.sendall(head.partition(b"\r\n\r\n")[2])
        except OSError:
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        upstream.settimeout(None)
        _pipe(self.request, upstream)


# --- the namespace's init ----------------------------------------------------------------------------
def _loopback_up() -> None:
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _relay(socket_path: str) -> None:
    server = socket.create_server(("127.0.0.1", PROXY_PORT))
    while True:
        conn, _ = server.accept()

        def bridge(conn=conn) -> None:
            upstream = socket.socket(socket.AF_UNIX)
            try:
                upstream.connect(socket_path)
            except OSError:
                conn.close()
                return
            _pipe(conn, upstream)

        threading.Thread(target=bridge, daemon=True).start()


def _init(folder: Path) -> None:
    """PID 1 of the namespace: loopback up; private /run (sshd's privilege separation folder),
    /etc/hosts (this machine's name is 127.0.0.1 here), /etc/passwd (the private home), Ray's
    SSH control folder and the ``private`` folders; the proxy's near end; sshd; then reap orphans
    until killed."""
    config = json.loads((folder / "init.json").read_text())
    _loopback_up()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"], check=True)
    os.makedirs("/run/sshd", mode=0o755)
    subprocess.run(["mount", "--bind", config["hosts"], "/etc/hosts"], check=True)
    subprocess.run(["mount", "--bind", config["passwd"], "/etc/passwd"], check=True)
    os.makedirs(config["control_dir"], mode=0o700, exist_ok=True)
    subprocess.run(["mount", "--bind", config["private_control_dir"], config["control_dir"]], check=True)
    for source, target in config["private"]:
        subprocess.run(["mount", "--bind", source, target], check=True)
    threading.Thread(target=_relay, args=(config["socket"],), daemon=True).start()
    subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config["sshd_config"]])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    Path(config["ready"]).touch()
    reap_forever()


def reap_forever() -> None:
    """What a namespace's init does once its services run: reap every child that exits, forever
    (until the namespace ends)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.5)


if __name__ == "__main__" and sys.argv[1:2] == ["init"]:
    _init(Path(sys.argv[2]))
