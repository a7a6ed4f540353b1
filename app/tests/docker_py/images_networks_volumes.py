"""docker-py (7.1) against `wharf serve`: images, networks and volumes.

Run by app/tests/docker_images.rs with DOCKER_HOST (the server's socket), REGISTRY
(a docker-registry on 127.0.0.1 with htpasswd auth), REGISTRY_USER,
REGISTRY_PASSWORD and WORK (a scratch directory). Prints "docker-py: all good".
"""

import os
import sys

import docker
from docker.errors import APIError, ImageNotFound, NotFound

client = docker.from_env()
reg = os.environ["REGISTRY"]
auth = {
    "username": os.environ["REGISTRY_USER"],
    "password": os.environ["REGISTRY_PASSWORD"],
}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


# Images: list, get, tag.
images = client.images.list()
check(any("wharf/demo:latest" in i.tags for i in images), f"demo listed: {images}")
demo = client.images.get("wharf/demo")
check(demo.id.startswith("sha256:"), demo.id)
check(demo.attrs["RepoTags"] == ["wharf/demo:latest"], demo.attrs["RepoTags"])
check(demo.attrs["Os"] == "linux", demo.attrs["Os"])
check(client.images.get(demo.id).id == demo.id, "get by id")
check(demo.tag(f"{reg}/py/demo", tag="1"), "tag")
check(f"{reg}/py/demo:1" in client.images.get(demo.id).tags, "tagged")
check(
    [i.id for i in client.images.list(name=f"{reg}/py/demo")] == [demo.id],
    "list by name",
)
history = demo.history()
check(history[0]["Id"] == demo.id and history[0]["Tags"], f"history: {history}")
try:
    client.images.get("nosuch:1")
    check(False, "missing image found")
except ImageNotFound:
    pass

# Push and pull with per-call credentials (X-Registry-Auth).
out = client.images.push(f"{reg}/py/demo", tag="1", auth_config=auth)
check("1: digest: sha256:" in out and '"error"' not in out, f"push: {out}")
lines = list(
    client.api.push(f"{reg}/py/demo", tag="1", auth_config=auth, stream=True, decode=True)
)
check(any(l.get("aux", {}).get("Tag") == "1" for l in lines), f"push aux: {lines}")
try:
    bad = client.images.push(
        f"{reg}/py/demo", tag="1", auth_config={"username": "x", "password": "y"}
    )
    check("errorDetail" in bad, f"push with bad credentials: {bad}")
except APIError:
    pass
client.images.remove(f"{reg}/py/demo:1")
pulled = client.images.pull(f"{reg}/py/demo", tag="1", auth_config=auth)
check(pulled.id == demo.id, f"pulled {pulled.id} != {demo.id}")
check(
    any(d.startswith(f"{reg}/py/demo@sha256:") for d in pulled.attrs["RepoDigests"]),
    pulled.attrs["RepoDigests"],
)

# Save (by id and by name) and load.
data = b"".join(demo.save(named=True))
check(len(data) > 500_000, f"saved {len(data)} bytes")
client.images.remove(f"{reg}/py/demo:1")
client.images.remove("wharf/demo", force=False, noprune=False)
try:
    client.images.get(demo.id)
    check(False, "removed image still there")
except ImageNotFound:
    pass
loaded = client.images.load(data)
check([i.id for i in loaded] == [demo.id], f"loaded {loaded}")
check("wharf/demo:latest" in client.images.get(demo.id).tags, "loaded tag")
by_id = b"".join(client.images.get(demo.id).save())
check(len(by_id) > 500_000, "save by id")

# Prune: an untagged import goes, the demo image stays.
with open(os.path.join(os.environ["WORK"], "rootfs.tar"), "rb") as f:
    rootfs = f.read()
out = client.api.import_image_from_data(rootfs)
check("sha256:" in out, f"import: {out}")
pruned = client.images.prune(filters={"dangling": True})
check(pruned["ImagesDeleted"], f"prune: {pruned}")
check(any("Deleted" in d for d in pruned["ImagesDeleted"]), pruned)
check(isinstance(pruned["SpaceReclaimed"], int), pruned)
check(client.images.get("wharf/demo").id == demo.id, "demo kept")

# Networks.
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.214.3.0/24")])
net = client.networks.create("pynet", driver="bridge", labels={"a": "b"}, ipam=ipam)
check(net.attrs["IPAM"]["Config"][0]["Subnet"] == "10.214.3.0/24", net.attrs)
check(net.attrs["Labels"] == {"a": "b"}, net.attrs)
check("Owner" not in net.attrs, net.attrs)
check([n.name for n in client.networks.list(names=["pynet"])] == ["pynet"], "list by name")
check(client.networks.get(net.id).name == "pynet", "get")
check(
    {n.name for n in client.networks.list()} >= {"bridge", "host", "none", "pynet"},
    "list",
)
try:
    client.networks.create("pynet")
    check(False, "duplicate network created")
except APIError as e:
    check(e.status_code == 409, f"duplicate: {e}")
try:
    client.networks.create("pyover", driver="overlay")
    check(False, "overlay created")
except APIError as e:
    check(e.status_code == 400 and "overlay" in str(e), f"overlay: {e}")
net.remove()
try:
    client.networks.get("pynet")
    check(False, "removed network found")
except NotFound:
    pass
client.networks.create("pyprune")
pruned = client.networks.prune()
check("pyprune" in pruned["NetworksDeleted"], pruned)

# Volumes.
vol = client.volumes.create("pyvol", labels={"k": "v"})
check(vol.attrs["Driver"] == "local" and vol.attrs["Labels"] == {"k": "v"}, vol.attrs)
check(client.volumes.get("pyvol").name == "pyvol", "get")
check("pyvol" in [v.name for v in client.volumes.list()], "list")
check(
    [v.name for v in client.volumes.list(filters={"label": "k=v"})] == ["pyvol"],
    "list by label",
)
try:
    client.volumes.create("pynfs", driver="nfs")
    check(False, "nfs volume created")
except APIError as e:
    check(e.status_code == 400, f"nfs: {e}")
vol.remove()
try:
    client.volumes.get("pyvol")
    check(False, "removed volume found")
except NotFound:
    pass
client.volumes.create("pyvol2")
pruned = client.volumes.prune()
check(not pruned["VolumesDeleted"], f"plain prune takes anonymous volumes only: {pruned}")
pruned = client.volumes.prune(filters={"all": True})
check("pyvol2" in pruned["VolumesDeleted"], pruned)

print("docker-py: all good")
