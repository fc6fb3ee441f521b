#!/usr/bin/env python3
"""Writes a single-layer OCI image archive (an OCI image layout in a tar) that
`ctr images import` reads, without a registry or a container engine.

    mkimage.py --name irsa.local/pause:e2e --out pause.tar \
        --entrypoint '["/pause"]' --file /tmp/pause:/pause:0755 [--user 65535:65535] \
        [--env K=V] [--dir /tmp:1777]

The layer is reproducible: entries sorted, owner root (or --owner), mtime 0, no
compression; the same inputs give the same image digest.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile


def tar_bytes(entries):
    """entries: {path: (kind, data_or_target, mode)}; kind 'file', 'dir' or 'symlink'."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path in sorted(entries):
            kind, data, mode = entries[path]
            info = tarfile.TarInfo(path.lstrip("/"))
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def add_parents(entries, path):
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        entries.setdefault(d, ("dir", None, 0o755))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--entrypoint", default="[]")
    ap.add_argument("--cmd", default="[]")
    ap.add_argument("--user", default="")
    ap.add_argument("--workdir", default="/")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--file", action="append", default=[], help="SRC:DST[:MODE]")
    ap.add_argument("--dir", action="append", default=[], help="DST[:MODE]")
    ap.add_argument("--symlink", action="append", default=[], help="DST:TARGET")
    a = ap.parse_args()

    entries = {}
    for spec in a.file:
        parts = spec.split(":")
        src, dst = parts[0], parts[1]
        mode = int(parts[2], 8) if len(parts) > 2 else 0o644
        with open(src, "rb") as f:
            data = f.read()
        add_parents(entries, dst)
        entries[dst] = ("file", data, mode)
    for spec in a.dir:
        parts = spec.split(":")
        add_parents(entries, parts[0])
        entries[parts[0]] = ("dir", None, int(parts[1], 8) if len(parts) > 1 else 0o755)
    for spec in a.symlink:
        dst, target = spec.split(":", 1)
        add_parents(entries, dst)
        entries[dst] = ("symlink", target, 0o777)

    layer = tar_bytes(entries)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": json.loads(a.entrypoint) or None,
            "Cmd": json.loads(a.cmd) or None,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env,
            "User": a.user,
            "WorkingDir": a.workdir,
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "tools/image/mkimage.py"}],
    }
    config_b = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config_b).hexdigest(),
            "size": len(config_b),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": len(layer),
        }],
    }
    manifest_b = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_b).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_b),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": a.name,
                "org.opencontainers.image.ref.name": a.name.rsplit(":", 1)[-1],
            },
        }],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    for blob in (layer, config_b, manifest_b):
        files["blobs/sha256/" + hashlib.sha256(blob).hexdigest()] = blob
    ent = {"/blobs": ("dir", None, 0o755), "/blobs/sha256": ("dir", None, 0o755)}
    for p, b in files.items():
        ent["/" + p] = ("file", b, 0o644)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(tar_bytes(ent))
    os.replace(tmp, a.out)
    print(manifest_digest)


if __name__ == "__main__":
    main()
