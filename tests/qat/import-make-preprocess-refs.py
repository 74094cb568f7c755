#!/usr/bin/python3
# References for the preprocessing parity test (import-preprocess.cc): random 8-bit images
# (smooth patterns plus noise, gray and RGB, odd sizes) and what torchvision's evaluation
# transform makes of them on PIL images: Resize(resize) (Pillow bilinear, antialiased) then
# CenterCrop(crop). Usage: import-make-preprocess-refs.py OUTDIR. Writes OUTDIR/manifest.txt
# ("name h w channels resize crop") and per image NAME.in / NAME.out raw HWC bytes.
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image


def pattern(h, w, c, gen):
    y = torch.arange(h).view(h, 1, 1).float()
    x = torch.arange(w).view(1, w, 1).float()
    f = torch.rand(4, c, generator=gen) * 0.3 + 0.02
    img = 128 + 60 * torch.sin(x * f[0] + y * f[1]) + 40 * torch.cos(x * f[2] - y * f[3])
    img = img + torch.randn(h, w, c, generator=gen) * 12
    return img.clamp(0, 255).round().to(torch.uint8).numpy()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    cases = [("rgb-500x375", 375, 500, 3, 256, 224), ("rgb-333x500", 500, 333, 3, 256, 224),
             ("gray-97x130", 130, 97, 1, 64, 56), ("rgb-301x77", 77, 301, 3, 64, 56),
             ("rgb-upscale-40x50", 50, 40, 3, 64, 56), ("rgb-square-256", 256, 256, 3, 256, 224),
             ("rgb-odd-crop-259x400", 400, 259, 3, 256, 223)]
    with open(os.path.join(out, "manifest.txt"), "w") as manifest:
        for name, h, w, c, resize, crop in cases:
            arr = pattern(h, w, c, gen)
            img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, "L" if c == 1 else "RGB")
            res = np.asarray(T.CenterCrop(crop)(T.Resize(resize)(img)))
            arr.tofile(os.path.join(out, name + ".in"))
            np.ascontiguousarray(res).tofile(os.path.join(out, name + ".out"))
            manifest.write("%s %d %d %d %d %d\n" % (name, h, w, c, resize, crop))


if __name__ == "__main__":
    main()
