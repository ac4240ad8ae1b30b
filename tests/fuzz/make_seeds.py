#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/). Deterministic; run
from anywhere: python3 tests/fuzz/make_seeds.py. Needs numpy and PIL only for the .npy and image
seeds (Debian: python3-numpy, python3-pil). Each target's first byte(s) select its mode (see the
target's source); the seeds cover every mode with a small valid file and a few broken ones."""
import gzip
import io
import json
import os
import struct

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(b):
    return gzip.compress(b, mtime=0)


rng = np.random.default_rng(0)

# ---- fuzz_cifar: mode byte (0 CIFAR-10, 1 CIFAR-100 fine, 2 coarse), then records -------------
def cifar_records(n, label_bytes, classes):
    out = b""
    for i in range(n):
        labels = bytes([(i * 7 + k) % classes for k in range(label_bytes)])
        out += labels + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    return out

put("fuzz_cifar", "c10_two", b"\x00" + cifar_records(2, 1, 10))
put("fuzz_cifar", "c100_fine", b"\x01" + cifar_records(1, 2, 20))
put("fuzz_cifar", "c100_coarse", b"\x02" + cifar_records(2, 2, 20))
put("fuzz_cifar", "c10_truncated", b"\x00" + cifar_records(1, 1, 10)[:-5])
put("fuzz_cifar", "c10_bad_label", b"\x00" + b"\x0c" + bytes(3072))
put("fuzz_cifar", "empty", b"\x00")

# ---- fuzz_idx: flags (bit0/bit1: gzip images/labels in the target), u16 split, payload ----------
def idx3(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + rng.integers(0, 256, n * h * w, dtype=np.uint8).tobytes()

def idx1(n):
    return struct.pack(">II", 0x801, n) + bytes((i * 3) % 10 for i in range(n))

def idx_seed(flags, img, lab):
    return bytes([flags]) + struct.pack("<H", len(img)) + img + lab

put("fuzz_idx", "plain", idx_seed(0, idx3(3, 4, 5), idx1(3)))
put("fuzz_idx", "gzip_by_target", idx_seed(3, idx3(2, 6, 6), idx1(2)))
put("fuzz_idx", "gzip_in_file", idx_seed(0, gz(idx3(2, 3, 3)), gz(idx1(2))))
put("fuzz_idx", "gzip_truncated", idx_seed(0, gz(idx3(2, 3, 3))[:-9], idx1(2)))
put("fuzz_idx", "count_mismatch", idx_seed(0, idx3(2, 2, 2), idx1(3)))
put("fuzz_idx", "zero_images", idx_seed(0, idx3(0, 28, 28), idx1(0)))
put("fuzz_idx", "huge_header", idx_seed(0, struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), idx1(1)))

# ---- fuzz_image: option byte (bit0 RGB, bits1-2 load size), then an image file ---------------
def img_bytes(fmt, mode, size, **kw):
    a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(a, "RGB").convert(mode)
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()

put("fuzz_image", "png_rgb", bytes([1 | 4]) + img_bytes("PNG", "RGB", (9, 6)))
put("fuzz_image", "png_gray", bytes([0]) + img_bytes("PNG", "L", (5, 7)))
put("fuzz_image", "png_rgba", bytes([1 | 2]) + img_bytes("PNG", "RGBA", (4, 4)))
put("fuzz_image", "png_palette", bytes([1]) + img_bytes("PNG", "P", (6, 3)))
put("fuzz_image", "jpeg", bytes([1 | 6]) + img_bytes("JPEG", "RGB", (16, 12), quality=80))
put("fuzz_image", "jpeg_progressive", bytes([0 | 6]) + img_bytes("JPEG", "RGB", (17, 9), quality=60, progressive=True))
put("fuzz_image", "jpeg_gray", bytes([0 | 2]) + img_bytes("JPEG", "L", (8, 8)))
put("fuzz_image", "bmp", bytes([1]) + img_bytes("BMP", "RGB", (5, 3)))
put("fuzz_image", "ppm", bytes([1 | 4]) + img_bytes("PPM", "RGB", (4, 5)))
put("fuzz_image", "pgm", bytes([0]) + img_bytes("PPM", "L", (3, 3)))
put("fuzz_image", "tga", bytes([1]) + img_bytes("TGA", "RGB", (6, 6)))
put("fuzz_image", "tga_rle", bytes([1]) + img_bytes("TGA", "RGB", (6, 6), compression="tga_rle"))
put("fuzz_image", "gif", bytes([1 | 2]) + img_bytes("GIF", "P", (7, 5)))
put("fuzz_image", "jpeg_truncated", bytes([1]) + img_bytes("JPEG", "RGB", (16, 16))[:-40])
put("fuzz_image", "not_an_image", bytes([1]) + b"hello, world\n")

# ---- fuzz_npy: mode byte (0 float matrix, 1 double matrix, 2 labels), then the file --------------
def npy(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()

put("fuzz_npy", "f4_2d", b"\x00" + npy(rng.standard_normal((3, 4)).astype("<f4")))
put("fuzz_npy", "f8_1d", b"\x01" + npy(rng.standard_normal(5).astype("<f8")))
put("fuzz_npy", "f8_as_float", b"\x00" + npy(np.array([[1e300, -1e-300], [np.nan, np.inf]], "<f8")))
put("fuzz_npy", "f4_empty", b"\x01" + npy(np.zeros((0, 3), "<f4")))
put("fuzz_npy", "labels_i8", b"\x02" + npy(np.array([0, 3, 9, 2], "<i8")))
put("fuzz_npy", "labels_i4_col", b"\x02" + npy(np.array([[1], [2]], "<i4")))
put("fuzz_npy", "labels_text", b"\x02" + b"3\n 1 \n\n-2\n+7\n")
put("fuzz_npy", "v2_header", b"\x00" + b"\x93NUMPY\x02\x00" + struct.pack("<I", 118) +
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }".ljust(117) + b"\n" + struct.pack("<ff", 1.5, -2))
put("fuzz_npy", "huge_shape", b"\x00" + b"\x93NUMPY\x01\x00" + struct.pack("<H", 70) +
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"[:69].ljust(69) + b"\n")
put("fuzz_npy", "big_endian", b"\x01" + npy(np.arange(3, dtype=">f8")))

# ---- fuzz_objective_options: JSON text -------------------------------------------------------
put("fuzz_objective_options", "all_keys", json.dumps({
    "distance": "jsd", "logdet_eps": 0.25, "ridge": 1e-3, "lambda_cluster": 3, "lambda_smooth": 5,
    "lambda_hinge": 4, "lambda_probe": 1, "knn_k": 2, "skip_first_fake": False, "knn_block_elements": 1024,
    "bank_size": 512, "power_steps": 2, "lip": 1, "jacobian_penalty": "absolute", "fuse_jacobian_pass": False,
    "gaussian_stats": "per_rank",
}).encode())
put("fuzz_objective_options", "empty_object", b"{}")
put("fuzz_objective_options", "wrong_type", b'{"knn_k": "one"}')
put("fuzz_objective_options", "unknown_key", b'{"lambda_hinj": 4}')
put("fuzz_objective_options", "big_integer", b'{"power_steps": 4294967297, "bank_size": 18446744073709551615}')
put("fuzz_objective_options", "not_object", b"[1, 2, 3]")

# ---- fuzz_checkpoint: mode byte (bit0: header written by the target, bit1: allow unbound entries) --
def fnv1a64(b):
    h = 14695981039346656037
    for x in b:
        h ^= x
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h

def checkpoint(entries, blobs, unbound=()):
    data, man = b"", []
    for e, blob in zip(entries, blobs):
        e = dict(e)
        if e["kind"] != "integer":
            e.update(offset=len(data), bytes=len(blob), fnv1a64="%016x" % fnv1a64(blob))
            data += blob
        man.append(e)
    for e in unbound:
        man.append(e)
    text = json.dumps({"format": "structgan-checkpoint", "version": 1, "entries": man}, indent=1).encode()
    head = b"SGANCKPT" + struct.pack("<IIQQQ", 1, 0, len(text), fnv1a64(text), len(data))
    return head, text, data

rng_state = (" ".join(str(5489 + i) for i in range(312)) + " 312 1 0x1.8p-3").encode()
ck_entries = [
    {"name": "w", "kind": "tensor", "role": "tensor", "dtype": "float32", "shape": [2, 3]},
    {"name": "m", "kind": "tensor", "role": "tensor", "dtype": "float64", "shape": [4]},
    {"name": "note", "kind": "string", "role": "string", "dtype": "bytes", "shape": [5]},
    {"name": "step", "kind": "integer", "role": "integer", "value": 1234},
    {"name": "rng", "kind": "string", "role": "rng", "dtype": "bytes", "shape": [len(rng_state)]},
]
ck_blobs = [np.arange(6, dtype="<f4").tobytes(), np.linspace(0, 1, 4).astype("<f8").tobytes(), b"hello", b"", rng_state]
head, text, data = checkpoint(ck_entries, ck_blobs)
put("fuzz_checkpoint", "valid_raw", b"\x00" + head + text + data)
put("fuzz_checkpoint", "valid_built", b"\x01" + struct.pack("<H", len(text)) + text + data)
put("fuzz_checkpoint", "truncated_raw", b"\x00" + (head + text + data)[:-7])
extra = {"name": "bank", "kind": "integer", "role": "integer", "value": 3}
head2, text2, data2 = checkpoint(ck_entries, ck_blobs, unbound=[extra])
put("fuzz_checkpoint", "unbound_allowed", b"\x03" + struct.pack("<H", len(text2)) + text2 + data2)
put("fuzz_checkpoint", "unbound_rejected", b"\x01" + struct.pack("<H", len(text2)) + text2 + data2)
bad = [dict(ck_entries[0], shape=[3, 2])] + ck_entries[1:]
head3, text3, data3 = checkpoint(bad, ck_blobs)
put("fuzz_checkpoint", "shape_mismatch", b"\x01" + struct.pack("<H", len(text3)) + text3 + data3)
badrng = ck_blobs[:4] + [b"not a state"]
bad = ck_entries[:4] + [dict(ck_entries[4], shape=[len(badrng[4])])]
head4, text4, data4 = checkpoint(bad, badrng)
put("fuzz_checkpoint", "bad_rng_state", b"\x01" + struct.pack("<H", len(text4)) + text4 + data4)
put("fuzz_checkpoint", "bad_checksum", b"\x01" + struct.pack("<H", len(text)) + text + data[:-1] + b"\x00")

# ---- fuzz_train_config: mode byte (0 file on cifar10, 1 file on fashion_mnist, 2 key=value) ------
put("fuzz_train_config", "preset_spiral", b"\x00" + json.dumps({"preset": "double_spiral", "iterations": 10,
    "batch_size": 32, "objective": {"bank_size": 64, "knn_k": 2}}).encode())
put("fuzz_train_config", "fashion", b"\x01" + json.dumps({"iterations": 5, "lr_d": 1e-3, "augment": False,
    "output_dir": "runs/x", "device": "cpu", "image_size": 32, "g_bottom_width": 4}).encode())
put("fuzz_train_config", "unknown_key", b"\x00" + b'{"iteration": 5}')
put("fuzz_train_config", "huge_ints", b"\x00" + b'{"g_bottom_width": 4611686018427387904, "image_size": 0, "g_ch": 9223372036854775807}')
put("fuzz_train_config", "override", b"\x02" + b"objective.lambda_hinge=4")
put("fuzz_train_config", "override_plain", b"\x02" + b"output_dir=runs/y")
put("fuzz_train_config", "not_json", b"\x00" + b"{iterations: 5")
