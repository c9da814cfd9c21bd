"""Probe run inside the hardened grading container by docker/smoke-test.sh.

It checks, from the container's root process (capabilities dropped by the
runner), what the grader relies on, and prints one line per item:
    PASS name: detail | FAIL name: detail | INFO name: detail
INFO items are facts the grader may or may not use (namespaces, nftables);
only FAIL makes the exit status non-zero. Standard library and pexpect only.
"""

import os
import socket
import subprocess
import sys
import textwrap
import time

STUDENT = int(os.environ.get("STUDENT_UID", "2000"))
failed = []


def report(kind, name, detail):
    print(f"{kind} {name}: {detail}", flush=True)
    if kind == "FAIL":
        failed.append(name)


def check(name, ok, detail):
    report("PASS" if ok else "FAIL", name, detail)


def drop_privileges():
    # What the grader does in the child before exec'ing the student's program.
    os.setgroups([])
    os.setgid(STUDENT)
    os.setuid(STUDENT)


def as_student(code, **kw):
    return subprocess.run([sys.executable, "-I", "-c", textwrap.dedent(code)],
                          preexec_fn=drop_privileges, capture_output=True,
                          text=True, timeout=20, **kw)


def tcp_rows():
    rows = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            port = int(p[1].split(":")[1], 16)
            rows.append({"local": p[1], "port": port, "st": p[3],
                         "uid": int(p[7]), "inode": int(p[9])})
    return rows


def wait_for(cond, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    return None


def loopback():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn, _ = srv.accept()
    msg = "hello 你好\n".encode()
    cli.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += conn.recv(100)
    conn.sendall(got[::-1])
    conn.close()
    back = b""
    while chunk := cli.recv(100):
        back += chunk
    cli.close()
    srv.close()
    check("loopback", got == msg and back == msg[::-1],
          f"127.0.0.1:{port} carried {len(got)} bytes each way, then EOF")
    ifaces = [name for _, name in socket.if_nameindex()]
    report("INFO", "interfaces", ", ".join(ifaces))


def proc_net_tcp():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    row = [r for r in tcp_rows() if r["port"] == port]
    check("/proc/net/tcp", bool(row) and row[0]["st"] == "0A",
          f"LISTEN row for port {port}: {row[0] if row else 'missing'}")
    srv.close()


def privilege_drop():
    r = as_student("""
        import os
        out = [f"uid={os.getuid()} gid={os.getgid()} groups={os.getgroups()}"]
        caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')]
        out.append(f"CapEff={caps[0]}")
        for path in ('/opt/grader', '/opt/grader/exercises'):
            try:
                os.listdir(path); out.append(f"READ {path}")
            except PermissionError:
                out.append(f"denied {path}")
        try:
            import grader; out.append("IMPORTED grader")
        except ImportError:
            out.append("no grader module")
        for path in ('/tmp/x', '/etc/x', '/x'):
            try:
                open(path, 'w').write('x'); out.append(f"wrote {path}")
            except OSError as e:
                out.append(f"cannot write {path} ({e.strerror})")
        try:
            os.kill(1, 0); out.append("CAN signal pid 1")
        except PermissionError:
            out.append("cannot signal pid 1")
        print('; '.join(out))
    """)
    out = r.stdout.strip()
    ok = (r.returncode == 0 and f"uid={STUDENT}" in out and "CapEff=0000000000000000" in out
          and "denied /opt/grader;" in out and "no grader module" in out
          and "wrote /tmp/x" in out and "cannot write /etc/x" in out
          and "cannot signal pid 1" in out)
    check("privilege drop (preexec_fn)", ok, out or r.stderr.strip()[-300:])
    os.unlink("/tmp/x") if os.path.exists("/tmp/x") else None

    # The same with subprocess's own parameters (no preexec_fn, thread-safe).
    r = subprocess.run([sys.executable, "-I", "-c",
                        "import os; print(os.getuid(), os.getgid(), os.getgroups())"],
                       user=STUDENT, group=STUDENT, extra_groups=[],
                       capture_output=True, text=True, timeout=20)
    check("privilege drop (user=/group=)", r.stdout.split() == [str(STUDENT), str(STUDENT), "[]"],
          r.stdout.strip() or r.stderr.strip()[-300:])


def student_socket_seen_by_root():
    # A server run as the student: root finds its LISTEN row, maps the inode to
    # the pid through /proc/PID/fd (needs CAP_SYS_PTRACE for another uid), then
    # stops it with a signal (needs CAP_KILL).
    code = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
            "s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-I", "-c", code], preexec_fn=drop_privileges,
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    row = wait_for(lambda: [r for r in tcp_rows() if r["port"] == port and r["st"] == "0A"])
    inode = row[0]["inode"] if row else None
    try:
        links = {os.readlink(f"/proc/{p.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{p.pid}/fd")}
        fd_detail = "inode found in /proc/PID/fd" if f"socket:[{inode}]" in links else f"inode not in {links}"
        fd_ok = f"socket:[{inode}]" in links
    except PermissionError as e:
        fd_ok, fd_detail = False, f"/proc/PID/fd unreadable: {e}"
    check("student socket in /proc/net/tcp", bool(row) and row[0]["uid"] == STUDENT,
          f"port {port} uid {row[0]['uid'] if row else '?'}")
    check("root maps inode to student pid", fd_ok, fd_detail)
    try:
        os.kill(p.pid, 15)
        p.wait(timeout=5)
        check("root signals student process", p.returncode == -15, f"exit {p.returncode}")
    except PermissionError as e:
        check("root signals student process", False, str(e))
        p.kill()


def pexpect_pty():
    import pexpect
    program = "name = input('你的名字? '); print('hello', name)"
    for who, pre in (("root", None), ("student", drop_privileges)):
        try:
            child = pexpect.spawn(sys.executable, ["-I", "-c", program], encoding="utf-8",
                                  timeout=10, preexec_fn=pre)
            child.expect("名字")
            child.sendline("世界")
            child.expect("hello 世界")
            child.expect(pexpect.EOF)
            child.close()
            check(f"pexpect pty ({who})", child.exitstatus == 0,
                  f"prompt answered, output seen, exit {child.exitstatus}")
        except Exception as e:  # noqa: BLE001 - report any failure as a FAIL line
            check(f"pexpect pty ({who})", False, f"{type(e).__name__}: {e}")


NS_SCRIPT = """
set -e
ip link set lo up
nft add table inet probe
nft add chain inet probe out '{ type filter hook output priority 0; }'
nft add rule inet probe out tcp dport 9 drop
python3 -I -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).close()'
echo "lo up, nftables drop rule added, AF_PACKET socket opened"
"""


def outcome(r):
    if r.returncode == 0:
        return "works: " + r.stdout.strip()
    # nft underlines the failing command with ^^^; keep only the message lines.
    lines = [l.strip() for l in r.stderr.splitlines() if l.strip() and set(l.strip()) != {"^"}]
    return "does not work: " + " / ".join(lines[:2])


def namespaces():
    for who, pre in (("root", None), ("student", drop_privileges)):
        r = subprocess.run(["unshare", "-rn", "sh", "-c", NS_SCRIPT], preexec_fn=pre,
                           capture_output=True, text=True, timeout=20)
        report("INFO", f"unshare -rn ({who})", outcome(r))
    # Without a namespace: nftables and raw sockets in the container's own
    # network namespace (private with --network none), as the root process.
    r = subprocess.run(["sh", "-c", NS_SCRIPT.replace("ip link set lo up\n", "")],
                       capture_output=True, text=True, timeout=20)
    report("INFO", "nft + AF_PACKET in the container's netns (root)", outcome(r))
    subprocess.run(["nft", "delete", "table", "inet", "probe"], capture_output=True)


def main():
    print(f"INFO python: {sys.version.split()[0]}, uid {os.getuid()}, "
          f"CapEff {[l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]}")
    for probe in (loopback, proc_net_tcp, privilege_drop, student_socket_seen_by_root,
                  pexpect_pty, namespaces):
        try:
            probe()
        except Exception as e:  # noqa: BLE001
            check(probe.__name__, False, f"{type(e).__name__}: {e}")
    print("RESULT", "FAIL: " + ", ".join(failed) if failed else "all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
