"""docker-py (7.x) against `wharf serve`'s Docker Engine API: containers.

Run by app/tests/docker_cli.rs (test `docker_py`) with the server's socket as the only
argument; prints `docker-py: all good` when every check held. Containers run with
network_mode="none" (no host network changes); the test removes what is left.
"""

import io
import sys
import tarfile
import time

import docker
from docker.errors import APIError, ImageNotFound, NotFound

sock = sys.argv[1]
client = docker.DockerClient(base_url="unix://" + sock, timeout=60)
IMG = "wharf/demo"
LOOP = "trap 'exit 0' TERM; echo hello; echo warn >&2; while true; do sleep 0.1; done"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_until(what, f, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if f():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# create / get / start / list
c = client.containers.create(IMG, ["sh", "-c", LOOP], name="py-a", network_mode="none",
                             labels={"suite": "py"}, environment={"X": "1"})
check(c.status == "created", "created: %s" % c.status)
check(client.containers.get("py-a").id == c.id, "get by name")
check(c.id in [x.id for x in client.containers.list(all=True)], "list all")
check(c.id not in [x.id for x in client.containers.list()], "not running yet")
c.start()
c.reload()
check(c.status == "running", "running: %s" % c.status)
check(c.attrs["Name"] == "/py-a", c.attrs["Name"])
check(c.attrs["Config"]["Labels"]["suite"] == "py", "labels")
check("X=1" in c.attrs["Config"]["Env"], "env")
check([x.name for x in client.containers.list(filters={"label": "suite=py"})] == ["py-a"],
      "label filter")

# logs: both streams, then one at a time
wait_until("logs", lambda: b"warn" in c.logs())
check(c.logs(stderr=False) == b"hello\n", c.logs(stderr=False))
check(c.logs(stdout=False) == b"warn\n", c.logs(stdout=False))
check(c.logs(timestamps=True).split(b" ", 1)[0].endswith(b"Z"), "timestamps")

# stats (one sample, with the previous one) and top
s = c.stats(stream=False)
for k in ("read", "preread", "cpu_stats", "precpu_stats", "memory_stats", "pids_stats",
          "blkio_stats", "name", "id"):
    check(k in s, "stats key " + k)
check(s["name"] == "/py-a", s["name"])
check(s["cpu_stats"]["online_cpus"] >= 1, "online_cpus")
check(s["precpu_stats"]["system_cpu_usage"] > 0, "precpu filled")
check(s["memory_stats"]["usage"] > 0, "memory usage")
t = c.top()
check(t["Titles"][:2] == ["UID", "PID"], t["Titles"])
check(any("sh -c" in " ".join(p) for p in t["Processes"]), t["Processes"])

# put_archive / get_archive / diff
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    data = b"from docker-py\n"
    ti = tarfile.TarInfo("py.txt")
    ti.size = len(data)
    ti.mtime = 1700000000
    tf.addfile(ti, io.BytesIO(data))
check(c.put_archive("/tmp", buf.getvalue()) is True, "put_archive")
bits, stat = c.get_archive("/tmp/py.txt")
check(stat["name"] == "py.txt" and stat["size"] == len(data), stat)
check(stat["mtime"].startswith("2023-11-14T22:13:20"), stat)
raw = b"".join(bits)
with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
    check(tf.extractfile("py.txt").read() == data, "archive content")
_, dstat = c.get_archive("/tmp")
check(dstat["mode"] & (1 << 31), "directory bit: %s" % dstat)
diff = c.diff()
check({"Path": "/tmp/py.txt", "Kind": 1} in diff, diff)

# update, rename
c.update(mem_limit="48m")
c.reload()
check(c.attrs["HostConfig"]["Memory"] == 48 * 1024 * 1024, c.attrs["HostConfig"]["Memory"])
c.rename("py-b")
c.reload()
check(c.name == "py-b", c.name)

# stop / wait / export / remove
c.stop(timeout=2)
check(c.wait(timeout=30) == {"StatusCode": 0, "Error": None}, "wait after stop")
c.reload()
check(c.status == "exited", c.status)
exported = b"".join(c.export())
with tarfile.open(fileobj=io.BytesIO(exported)) as tf:
    names = tf.getnames()
check("bin/busybox" in names and "tmp/py.txt" in names, "export names")
c.remove()
try:
    client.containers.get("py-b")
    raise AssertionError("removed container still there")
except NotFound as e:
    check("No such container: py-b" in str(e), str(e))

# run(detach=True) and wait for its exit code
r = client.containers.run(IMG, ["sh", "-c", "sleep 0.5; exit 4"], detach=True,
                          network_mode="none", name="py-run")
check(r.wait(timeout=30)["StatusCode"] == 4, "run exit code")
r.remove(force=True)

# run in the foreground: its output, or ContainerError with the exit code
out = client.containers.run(IMG, ["echo", "from run"], network_mode="none", remove=True)
check(out == b"from run\n", out)
try:
    client.containers.run(IMG, ["sh", "-c", "echo bad >&2; exit 2"], network_mode="none",
                          remove=True)
    raise AssertionError("a failing run did not raise")
except docker.errors.ContainerError as e:
    check(e.exit_status == 2 and b"bad" in e.stderr, str(e))

# errors as docker-py maps them
try:
    client.containers.create("nosuchimage:1", network_mode="none")
    raise AssertionError("created from a missing image")
except ImageNotFound as e:
    check("No such image: nosuchimage:1" in str(e), str(e))
try:
    client.containers.create(IMG, pid_mode="host")
    raise AssertionError("pid_mode=host accepted")
except APIError as e:
    check(e.status_code == 400 and "HostConfig.PidMode" in str(e), str(e))
client.containers.create(IMG, ["true"], name="py-dup", network_mode="none")
try:
    client.containers.create(IMG, ["true"], name="py-dup", network_mode="none")
    raise AssertionError("duplicate name accepted")
except APIError as e:
    check(e.status_code == 409 and "is already in use" in str(e), str(e))

# prune
rep = client.containers.prune()
check(any(i for i in (rep.get("ContainersDeleted") or [])), rep)
check(client.containers.list(all=True) == [], "pruned")

print("docker-py: all good")
