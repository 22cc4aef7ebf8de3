#!/usr/bin/env python3
"""Write the pull benchmark's image as two OCI layouts (helper of bench/pull.sh).

    pull-image.py OUTDIR

OUTDIR/gzip   6 gzip layers (what a registry serves; pushed by pull.sh)
OUTDIR/plain  the same 6 layers uncompressed (for the unpack row)
OUTDIR/tars   the 6 uncompressed layer tars (for `tar -xf`)

About 300 MB uncompressed, ~3,300 files: text-like files (compress ~3x, like source trees and
logs) and random files (incompressible, like binaries and compressed assets), in layers of
different shapes (many small files, a few big ones). Deterministic: the same bytes every
time, so the image is generated once and reused.
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

MTIME = 946684800  # 2000-01-01, fixed so the layers' digests never change

WORDS = (
    "the of and to in is it that for on with as was at by an be this are from or have not "
    "but had which one you were all we when there can been has more if will no out so said "
    "what up its about into than them only some could new these two may then do first any "
    "my now such like our over man me even most made after also did many before must "
    "through back years where much your way well down should because each just those "
    "static const return struct impl fn let mut match self usize String Vec Option Result "
    "error warning info debug config layer image manifest digest registry container"
).split()


def corpus(rng, size):
    """About `size` bytes of word salad: compresses like text (gzip ~3x), unlike noise."""
    out = io.StringIO()
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + "\n"
        out.write(line)
        n += len(line)
    return out.getvalue().encode()[:size]


class Layer:
    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()
        self.files = 0

    def _dir(self, path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = MTIME
                self.tar.addfile(info)

    def add(self, path, data, mode=0o644):
        self._dir(path)
        info = tarfile.TarInfo(path)
        info.size = len(data)
        info.mode = mode
        info.mtime = MTIME
        self.tar.addfile(info, io.BytesIO(data))
        self.files += 1

    def finish(self):
        self.tar.close()
        return self.buf.getvalue()


def text_files(layer, rng, text, prefix, count, size):
    for i in range(count):
        off = rng.randrange(0, len(text) - size)
        layer.add(f"{prefix}/{i // 100:03}/file{i:05}.txt", text[off : off + size])


def random_files(layer, rng, prefix, count, size, mode=0o755):
    for i in range(count):
        layer.add(f"{prefix}/blob{i:04}.bin", rng.randbytes(size), mode)


def build_layers():
    rng = random.Random(20240601)
    text = corpus(rng, 8 << 20)
    plans = [
        # (name, builder): ~300 MB in all
        ("base: many small text files", lambda l: text_files(l, rng, text, "usr/share/doc", 1500, 40_000)),
        ("binaries: random", lambda l: random_files(l, rng, "usr/lib/bin", 20, 2_500_000)),
        (
            "mixed",
            lambda l: (
                text_files(l, rng, text, "usr/src", 1000, 20_000),
                random_files(l, rng, "usr/lib/assets", 10, 2_000_000, 0o644),
            ),
        ),
        (
            "two big files",
            lambda l: (
                l.add("opt/app/data.bin", rng.randbytes(40 << 20)),
                l.add("opt/app/data.txt", (text * 6)[: 40 << 20]),
            ),
        ),
        ("logs: text", lambda l: text_files(l, rng, text, "var/log/app", 200, 200_000)),
        ("small random files", lambda l: random_files(l, rng, "var/cache/app", 500, 60_000, 0o644)),
    ]
    tars = []
    for name, build in plans:
        layer = Layer()
        build(layer)
        tars.append((name, layer.files, layer.finish()))
    return tars


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(layout, data):
    digest = sha(data)
    path = os.path.join(layout, "blobs", "sha256", digest[7:])
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    return {"digest": digest, "size": len(data)}


def write_layout(layout, tars, compress):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    layers = []
    for _, _, tar in tars:
        if compress:
            blob = gzip.compress(tar, compresslevel=6, mtime=0)
            media = "application/vnd.oci.image.layer.v1.tar+gzip"
        else:
            blob, media = tar, "application/vnd.oci.image.layer.v1.tar"
        layers.append(dict(mediaType=media, **write_blob(layout, blob)))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"], "Labels": {"bench": "pull"}},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for _, _, t in tars]},
        "history": [{"created": "2000-01-01T00:00:00Z", "created_by": name} for name, _, _ in tars],
    }
    cfg = write_blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **cfg),
        "layers": layers,
    }
    m = write_blob(layout, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            dict(
                mediaType="application/vnd.oci.image.manifest.v1+json",
                annotations={"org.opencontainers.image.ref.name": "latest"},
                **m,
            )
        ],
    }
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    return sum(l["size"] for l in layers)


def main():
    out = sys.argv[1]
    tars = build_layers()
    os.makedirs(os.path.join(out, "tars"), exist_ok=True)
    for i, (_, _, tar) in enumerate(tars):
        with open(os.path.join(out, "tars", f"layer{i + 1}.tar"), "wb") as f:
            f.write(tar)
    gz = write_layout(os.path.join(out, "gzip"), tars, compress=True)
    write_layout(os.path.join(out, "plain"), tars, compress=False)
    total = sum(len(t) for _, _, t in tars)
    files = sum(n for _, n, _ in tars)
    print(
        f"benchmark image: {len(tars)} layers, {files} files, "
        f"{total / 1e6:.0f} MB uncompressed, {gz / 1e6:.0f} MB gzip"
    )


if __name__ == "__main__":
    main()
